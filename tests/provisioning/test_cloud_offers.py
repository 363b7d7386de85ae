"""A value only the cloud can judge is refused before submit, on every way in: the request form, the service,
the API, and a day-2 modify. Before, a zone such as cn-north-1z passed all of them and both approvals, and
failed only when Terraform applied."""
import pytest
from django.urls import reverse

from provisioning.choices import RequestKind
from provisioning.models import Request
from provisioning.services import requests as svc
from tests.provisioning.clients import Api, signed_in
from tests.provisioning.conftest import VM, finish_run
from tests.provisioning.test_api import create_body
from tests.provisioning.test_pages import field_block, form_data
from tests.provisioning.test_requests import approve_all, awaiting, create

pytestmark = pytest.mark.django_db

EDU_ZONES = "教育云提供的可用区为：cn-north-1a、cn-north-1b，请从中选择。"
NAME_RULE = "名称必须由 3 到 31 个小写字母、数字或连字符组成，以字母开头，以字母或数字结尾。"


def test_the_service_refuses_a_zone_the_cloud_does_not_have(journey):
    with pytest.raises(svc.ParameterErrors) as error:
        create(journey["requester"], journey["offering"], parameters={**VM, "zone": "cn-north-1z"})
    assert error.value.errors == {"zone": [EDU_ZONES]}
    assert Request.objects.count() == 0


def test_the_api_refuses_it_with_the_clouds_list(journey):
    response = Api(journey["requester"]).post(
        "/api/v1/requests/", create_body(journey["offering"], parameters={**VM, "zone": "cn-north-1z"})
    )
    assert response.status_code == 400
    assert response.json()["params"]["errors"] == {"zone": [EDU_ZONES]}
    assert Request.objects.count() == 0


def test_the_api_refuses_a_name_that_is_not_a_host_name(journey):
    response = Api(journey["requester"]).post(
        "/api/v1/requests/", create_body(journey["offering"], parameters={**VM, "name": "web-01-"})
    )
    assert response.status_code == 400
    assert response.json()["params"]["errors"] == {"name": [NAME_RULE]}


def test_the_form_offers_the_zones_and_refuses_another(journey):
    url = reverse("provisioning:request_create", args=[journey["offering"].pk])
    client = signed_in(journey["requester"])

    page = client.get(reverse("catalogue:offering_detail", args=[journey["offering"].pk])).content.decode()
    zone = field_block(page, "p-zone")
    assert "<select" in zone and '<option value="cn-north-1a" selected>' in zone
    assert '<option value="cn-north-1b">' in zone

    response = client.post(url, form_data(**{"p-zone": "cn-north-1z"}))
    assert response.status_code == 200
    assert EDU_ZONES in field_block(response.content.decode(), "p-zone")
    assert Request.objects.count() == 0


def test_a_modify_goes_through_the_same_check(journey):
    request = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    finish_run(request.apply_run)
    request.refresh_from_db()
    instance = request.instance

    with pytest.raises(svc.ParameterErrors) as error:
        svc.request_create_day2(
            actor=journey["requester"], instance=instance, kind=RequestKind.MODIFY, parameters={"zone": "cn-north-1z"}
        )
    assert error.value.errors == {"zone": [EDU_ZONES]}

    response = Api(journey["requester"]).post(
        f"/api/v1/instances/{instance.pk}/requests/", {"kind": "modify", "parameters": {"zone": "cn-north-1z"}}
    )
    assert response.status_code == 400
    assert response.json()["params"]["errors"] == {"zone": [EDU_ZONES]}
    assert Request.objects.filter(instance=instance).count() == 1
