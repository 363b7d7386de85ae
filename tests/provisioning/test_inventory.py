"""The inventory, the request list and the inbox as operators, agency staff and cloud owners use them: who sees
what, every filter, search in Chinese and English, sorting, pages without a whole-list COUNT, the streamed CSV
of exactly the filtered rows (audited), and the API taking the same filters."""
import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from catalogue.choices import CloudTier
from portal.choices import Role
from portal.models import AuditEvent
from portal.tables import MAX_ROWS, PER_PAGE
from provisioning.choices import DriftStatus, InstanceStatus, RunKind, RunStatus
from provisioning.models import Run
from tests.catalogue.factories import CloudFactory, OfferingFactory, ServiceFactory
from tests.portal.factories import AgencyFactory, UserFactory
from tests.provisioning.clients import Api, html, signed_in
from tests.provisioning.factories import InstanceFactory

pytestmark = pytest.mark.django_db

URL = "/instances/"


@pytest.fixture
def estate(db):
    """Two agencies, two clouds of two tiers, two services; five instances spread over them."""
    edu = AgencyFactory(code="jyt", name="教育厅", name_en="Department of Education")
    health = AgencyFactory(code="wjw", name="卫健委", name_en="Health Commission")
    gov = CloudFactory(slug="gov", name="政务云", name_en="Government Cloud", tier=CloudTier.GOVERNMENT)
    med = CloudFactory(slug="med", name="医疗云", name_en="Medical Cloud", tier=CloudTier.INDUSTRY)
    vm, bucket = ServiceFactory(slug="vm"), ServiceFactory(slug="bucket")
    offers = {
        (cloud.slug, service.slug): OfferingFactory(cloud=cloud, service=service)
        for cloud in (gov, med) for service in (vm, bucket)
    }
    today = timezone.localdate()
    rows = {
        "web": InstanceFactory(name="教务网站", agency=edu, offering=offers["gov", "vm"], monthly_cost=Decimal("300"),
                               lease_end=today + timedelta(days=5)),
        "files": InstanceFactory(name="edu-files", agency=edu, offering=offers["gov", "bucket"], data_classification=3,
                                 monthly_cost=Decimal("20")),
        "his": InstanceFactory(name="医院信息系统", agency=health, offering=offers["med", "vm"],
                               drift_status=DriftStatus.DRIFTED, monthly_cost=Decimal("900")),
        "scans": InstanceFactory(name="影像存档", agency=health, offering=offers["med", "bucket"], monthly_cost=Decimal("50")),
        "old": InstanceFactory(name="旧系统", agency=health, offering=offers["gov", "vm"], status=InstanceStatus.DESTROYED),
    }
    return {"edu": edu, "health": health, "gov": gov, "med": med, "rows": rows}


def shown(page: str, estate) -> set[str]:
    return {key for key, row in estate["rows"].items() if f'data-instance="{row.pk}"' in page}


def csv_rows(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_each_role_lists_its_own_scope(estate, operator):
    edu_clerk = UserFactory(agency=estate["edu"], roles=[Role.REQUESTER])
    health_approver = UserFactory(agency=estate["health"], roles=[Role.AGENCY_APPROVER])
    med_owner = UserFactory(roles=[(Role.CLOUD_OWNER, estate["med"])])
    nobody = UserFactory()
    auditor = UserFactory(roles=[Role.AUDIT_ADMIN])

    assert shown(html(edu_clerk, URL), estate) == {"web", "files"}
    assert shown(html(health_approver, URL), estate) == {"his", "scans", "old"}
    assert shown(html(med_owner, URL), estate) == {"his", "scans"}
    assert shown(html(operator, URL), estate) == set(estate["rows"])
    assert shown(html(auditor, URL), estate) == set(estate["rows"])
    assert shown(html(nobody, URL), estate) == set()


def test_a_grant_on_one_instance_adds_that_one_and_no_other(estate):
    clerk = UserFactory(agency=estate["edu"], roles=[Role.REQUESTER])
    assign_perm("provisioning.view_instance", clerk, estate["rows"]["his"])
    assert shown(html(clerk, URL), estate) == {"web", "files", "his"}
    page = signed_in(clerk).get(reverse("provisioning:instance_detail", args=[estate["rows"]["scans"].pk]))
    assert page.status_code == 404


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("tier=government", {"web", "files", "old"}),
        ("cloud=med", {"his", "scans"}),
        ("service=bucket", {"files", "scans"}),
        ("agency=jyt", {"web", "files"}),
        ("status=destroyed", {"old"}),
        ("data_classification=3", {"files"}),
        ("drift_status=drifted", {"his"}),
        ("cost_min=100&cost_max=500", {"web"}),
        ("q=医院", {"his"}),
        ("q=Medical", {"his", "scans"}),  # the cloud's English name
        ("q=education", {"web", "files"}),  # the agency's English name, any case
        ("q=政务云 教务", {"web"}),  # every word must match
        ("cloud=gov&service=vm&agency=wjw", {"old"}),
    ],
)
def test_each_filter_narrows_the_inventory(estate, operator, query, expected):
    assert shown(html(operator, f"{URL}?{query}"), estate) == expected


def test_lease_and_last_run_filters(estate, operator):
    today = timezone.localdate()
    assert shown(html(operator, f"{URL}?lease_end_before={today + timedelta(days=7)}"), estate) == {"web"}
    his = estate["rows"]["his"]
    Run.objects.create(workspace=his.workspace, module=his.workspace.module, kind=RunKind.REFRESH, status=RunStatus.FAILED)
    Run.objects.create(workspace=estate["rows"]["web"].workspace, module=his.workspace.module, kind=RunKind.APPLY,
                       status=RunStatus.SUCCEEDED)
    assert shown(html(operator, f"{URL}?last_run=failed"), estate) == {"his"}
    page = html(operator, URL)
    assert page.count('class="badge failed"') == 1


def test_a_value_that_is_not_a_choice_is_an_error_not_an_empty_list(estate, operator):
    page = html(operator, f"{URL}?cloud=nowhere")
    assert shown(page, estate) == set() and 'class="error"' in page
    answer = Api(operator).get("/api/v1/instances/?cloud=nowhere")
    assert answer.status_code == 400 and "cloud" in answer.content.decode()
    assert Api(operator).get("/api/v1/instances/?cost_min=-1").status_code == 400


def test_sorting_by_cost(estate, operator):
    page = html(operator, f"{URL}?sort=-monthly_cost&status=active")
    order = [key for key in ("his", "web", "scans", "files") if f'data-instance="{estate["rows"][key].pk}"' in page]
    positions = [page.index(f'data-instance="{estate["rows"][key].pk}"') for key in order]
    assert order == ["his", "web", "scans", "files"] and positions == sorted(positions)


def test_pages_never_count_the_whole_list_and_stop_at_the_deepest_page(estate, operator):
    offering = estate["rows"]["web"].offering
    InstanceFactory.create_batch(PER_PAGE + 5, agency=estate["edu"], offering=offering)
    with CaptureQueriesContext(connection) as queries:
        first = signed_in(operator).get(URL)
    assert first.status_code == 200
    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "provisioning_instance" in q["sql"]]
    assert "?page=2" in first.content.decode()
    second = html(operator, f"{URL}?page=2")
    assert second.count("data-instance=") == PER_PAGE + 5 + 5 - PER_PAGE
    too_deep = html(operator, f"{URL}?page={MAX_ROWS // PER_PAGE + 1}")
    assert 'data-testid="too-deep"' in too_deep and "data-instance=" not in too_deep


def test_the_page_costs_the_same_queries_with_more_rows(estate, operator):
    edu_clerk = UserFactory(agency=estate["edu"], roles=[Role.REQUESTER])
    counts = []
    for more in (0, 30):
        InstanceFactory.create_batch(more, agency=estate["edu"], offering=estate["rows"]["web"].offering)
        for user in (operator, edu_clerk):
            client = signed_in(user)
            client.get(URL)  # sessions and caches warm
            with CaptureQueriesContext(connection) as queries:
                assert client.get(URL).status_code == 200
            counts.append(len(queries))
    assert counts[:2] == counts[2:], counts


def test_csv_holds_exactly_the_filtered_rows_and_is_audited(estate, operator):
    response = signed_in(operator).get(f"{URL}?tier=government&status=active&export=csv")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    assert sorted(int(row["编号"]) for row in rows) == sorted([estate["rows"]["web"].pk, estate["rows"]["files"].pk])
    web = next(row for row in rows if row["名称"] == "教务网站")
    assert web["云"] == "政务云" and web["单位"] == "教育厅" and web["月费用（元）"] == "300.00"
    event = AuditEvent.objects.get(action="inventory.exported")
    assert event.actor == operator and event.details["filters"] == {"tier": "government", "status": "active"}


def test_csv_is_only_what_the_user_may_see_and_in_their_language(estate):
    clerk = UserFactory(agency=estate["edu"], roles=[Role.REQUESTER])
    client = signed_in(clerk)
    client.cookies["django_language"] = "en"
    rows = csv_rows(client.get(f"{URL}?export=csv"))
    assert {row["Name"] for row in rows} == {"教务网站", "edu-files"}
    assert {row["Cloud"] for row in rows} == {"Government Cloud"}


def test_csv_of_an_invalid_filter_is_the_page_with_the_error(estate, operator):
    response = signed_in(operator).get(f"{URL}?agency=nobody&export=csv")
    assert not response.streaming and 'class="error"' in response.content.decode()
    assert not AuditEvent.objects.filter(action="inventory.exported").exists()


def test_the_api_takes_the_same_filters_and_pages_without_a_count(estate, operator):
    api = Api(operator)
    answer = api.get("/api/v1/instances/?cloud=med&ordering=-monthly_cost").json()
    assert [row["name"] for row in answer["results"]] == ["医院信息系统", "影像存档"]
    assert "count" not in answer and answer["next"] is None
    first = api.get("/api/v1/instances/?limit=2").json()
    assert len(first["results"]) == 2 and "offset=2" in first["next"]
    clerk = UserFactory(agency=estate["edu"], roles=[Role.REQUESTER])
    assert {row["name"] for row in Api(clerk).get("/api/v1/instances/?q=系统").json()["results"]} == set()
    assert Api(clerk).get("/api/v1/instances/?q=教务").json()["results"][0]["name"] == "教务网站"


def test_page_shows_the_columns_in_words(estate, operator):
    page = html(operator, f"{URL}?cloud=med&drift_status=drifted")
    for text in ("医院信息系统", "医疗云", "行业云", "云主机", "卫健委", "运行中", "内部", "¥900.00", "已漂移"):
        assert text in page, text
    assert "drifted" not in page.replace('value="drifted"', "").replace("drift_status=drifted", "")


# The request list and the approval inbox take the same filters -----------------------------------------------


def test_the_inbox_shows_what_an_approver_judges_by_and_filters_like_the_list(journey, no_broker):
    from tests.provisioning.test_requests import awaiting, create

    request = awaiting(journey["requester"], journey["offering"])
    Run.objects.filter(pk=request.plan_run_id).update(plan_summary=[
        {"address": "a", "type": "pcloud_instance", "name": "this", "action": "create", "changes": []},
        {"address": "b", "type": "pcloud_volume", "name": "data", "action": "create", "changes": []},
    ])  # what the plan will do
    page = html(journey["approver"], "/approvals/")
    assert f'data-request="{request.pk}"' in page
    assert request.get_data_classification_display() in page and f"¥{request.monthly_cost}" in page
    assert "新建 2 · 修改 0 · 替换 0 · 删除 0" in page
    assert f'data-request="{request.pk}"' not in html(journey["approver"], "/approvals/?cloud=" + CloudFactory().slug)
    assert f'data-request="{request.pk}"' in html(journey["approver"], f"/approvals/?q={request.number}")
    answer = Api(journey["approver"]).get(f"/api/v1/approvals/?cloud={journey['offering'].cloud.slug}").json()
    assert [row["id"] for row in answer["results"]] == [request.pk]

    draft = create(journey["requester"], journey["offering"], title="另一个申请")
    listed = html(journey["requester"], f"/requests/?q={draft.number}")
    assert f'data-request="{draft.pk}"' in listed and f'data-request="{request.pk}"' not in listed


def test_request_csv_is_the_filtered_list_and_audited(journey, no_broker):
    from tests.provisioning.test_requests import awaiting, create

    waiting = awaiting(journey["requester"], journey["offering"])
    draft = create(journey["requester"], journey["offering"])
    response = signed_in(journey["requester"]).get("/requests/?status=awaiting_approval&export=csv")
    rows = csv_rows(response)
    assert [row["编号"] for row in rows] == [waiting.number] and draft.number not in str(rows)
    event = AuditEvent.objects.get(action="requests.exported")
    assert event.details["filters"] == {"status": "awaiting_approval"}


def test_an_agency_clerk_chooses_among_their_own_agencies_only(estate, operator):
    clerk = UserFactory(agency=estate["edu"], roles=[Role.REQUESTER])
    page = html(clerk, URL)
    options = page[page.index('name="agency"'):].split("</select>")[0]
    assert 'value="jyt"' in options and 'value="wjw"' not in options
    assert 'value="wjw"' in html(operator, URL).split('name="agency"')[1].split("</select>")[0]
    # Asking for another agency's rows by URL is an error, not a way to learn anything of them.
    assert 'class="error"' in html(clerk, f"{URL}?agency=wjw")
