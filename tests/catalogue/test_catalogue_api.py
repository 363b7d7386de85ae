"""The catalogue API: clouds, services, offerings with their JSON Schema; anonymous callers get 401."""
import pytest
from django.test import Client

from catalogue.choices import CloudTier
from tests.catalogue.factories import CloudFactory, OfferingFactory, ServiceFactory
from tests.matrix import Matrix, assert_matrix

pytestmark = pytest.mark.django_db


@pytest.fixture
def offerings(db):
    edu = CloudFactory(slug="edu", name="教育云", tier=CloudTier.INDUSTRY)
    gov = CloudFactory(slug="gov", name="政务云", tier=CloudTier.GOVERNMENT)
    return {
        "edu-vm": OfferingFactory(cloud=edu, service=ServiceFactory(slug="vm")),
        "gov-vm": OfferingFactory(cloud=gov, service=ServiceFactory(slug="vm")),
        "hidden": OfferingFactory(cloud=gov, service=ServiceFactory(slug="bucket"), enabled=False),
    }


def api(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", ["/api/v1/clouds/", "/api/v1/services/", "/api/v1/offerings/"])
def test_anonymous_gets_401(url, offerings):
    assert Client().get(url).status_code == 401


def test_offering_list_filters_and_hides_disabled(requester, offerings):
    body = api(requester).get("/api/v1/offerings/?tier=industry").json()
    assert [row["id"] for row in body["results"]] == [offerings["edu-vm"].pk]
    every = api(requester).get("/api/v1/offerings/").json()
    assert offerings["hidden"].pk not in [row["id"] for row in every["results"]]


def test_offering_carries_its_json_schema(requester, offerings):
    body = api(requester).get(f"/api/v1/offerings/{offerings['edu-vm'].pk}/").json()
    schema = body["schema"]
    assert schema["type"] == "object"
    assert "flavor" in schema["properties"]
    assert schema["properties"]["flavor"]["enum"]
    assert schema["properties"]["admin_password"].get("writeOnly") is True
    assert body["module"]["name"] == "vm"


def test_offering_detail_matrix(requester, nobody, offerings):
    assert_matrix(
        Matrix(url=f"/api/v1/offerings/{offerings['edu-vm'].pk}/", permitted=requester, no_permission=nobody, api=True),
        marker="教育云",
    )


def test_disabled_offering_detail_is_404_for_requesters(requester, offerings):
    assert api(requester).get(f"/api/v1/offerings/{offerings['hidden'].pk}/").status_code == 404


def test_cloud_detail_by_slug(requester, offerings):
    body = api(requester).get("/api/v1/clouds/edu/").json()
    assert body["name"] == "教育云" and body["tier"] == "industry"
    assert "credentials_token" not in body and "account_id" not in body
