"""Each role lands where it works after sign-in, its home says what it does, and its nav shows only what it
can use: the two admins who may not browse the catalogue never meet an empty one ("0 朵云")."""
import pytest
from django.test import Client
from django.urls import reverse

from portal.choices import Role
from tests.catalogue.factories import CloudFactory
from tests.portal.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pass-for-tests"


@pytest.fixture
def cast(agency, requester, agency_approver, sysadmin, auditor):
    cloud = CloudFactory(slug="edu", name="教育云")
    return {
        "requester": requester,
        "agency_approver": agency_approver,
        "cloud_owner": UserFactory(username="cloud_owner", roles=[(Role.CLOUD_OWNER, cloud)]),
        "security_reviewer": UserFactory(username="security_reviewer", roles=[Role.SECURITY_REVIEWER]),
        "operator": UserFactory(username="operator", roles=[Role.OPERATOR]),
        "sysadmin": sysadmin,
        "secadmin": UserFactory(username="secadmin", roles=[Role.SECURITY_ADMIN]),
        "auditor": auditor,
        "nobody": UserFactory(username="nobody", agency=agency),
    }


def sign_in(username: str, **query) -> tuple[Client, object]:
    client = Client()
    url = reverse("login") + ("?next=" + query["next"] if query else "")
    response = client.post(url, {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    return client, response


LANDINGS = {
    "requester": "/",
    "agency_approver": "/approvals/",
    "cloud_owner": "/approvals/",
    "security_reviewer": "/approvals/",
    "operator": "/operations/",
    "sysadmin": "/admin/catalogue/",
    "secadmin": "/admin/",
    "auditor": "/audit/",
    "nobody": "/",
}


@pytest.mark.parametrize("username", list(LANDINGS))
def test_each_role_lands_on_its_work_after_sign_in(username, cast):
    client, response = sign_in(username)
    assert response["Location"] == LANDINGS[username]
    # The page it lands on opens for that role: the landing is a place it can work, not a refusal.
    assert client.get(response["Location"]).status_code == 200


def test_an_explicit_next_still_wins(cast):
    _, response = sign_in("auditor", next="/requests/")
    assert response["Location"] == "/requests/"


@pytest.mark.parametrize(("username", "link", "work"), [
    ("auditor", "/audit/", "查阅审计日志"),
    ("secadmin", "/admin/provisioning/approvalpolicy/", "审批策略"),
])
def test_admins_who_cannot_browse_the_catalogue_see_their_work_at_home_not_an_empty_catalogue(
    username, link, work, cast
):
    client = Client()
    client.force_login(cast[username])
    page = client.get("/").content.decode()
    assert "朵云" not in page and 'data-testid="tiles"' not in page
    assert 'data-testid="work"' in page and work in page and f'href="{link}"' in page
    assert 'data-testid="nav-catalogue"' not in page


def test_the_requester_home_keeps_the_catalogue(cast):
    client = Client()
    client.force_login(cast["requester"])
    page = client.get("/").content.decode()
    assert 'data-testid="tiles"' in page and 'data-testid="nav-catalogue"' in page
    assert 'data-testid="work"' not in page


NAV = {
    "catalogue": "/catalogue/",
    "requests": "/requests/",
    "approvals": "/approvals/",
    "instances": "/instances/",
    "overview": "/overview/",
    "showback": "/showback/",
    "operations": "/operations/",
    "audit": "/audit/",
}
INVENTORY = {"instances", "overview", "showback"}


@pytest.mark.parametrize(("username", "shown"), [
    ("requester", {"catalogue", "requests", *INVENTORY}),
    ("agency_approver", {"catalogue", "requests", "approvals", *INVENTORY}),
    ("cloud_owner", {"catalogue", "requests", "approvals", *INVENTORY}),  # the resources on their clouds
    ("operator", {"catalogue", "requests", "operations", *INVENTORY}),
    ("auditor", {"requests", "audit", *INVENTORY}),
    ("secadmin", set()),
    ("nobody", set()),
])
def test_the_nav_shows_only_what_the_role_can_use(username, shown, cast):
    client = Client()
    client.force_login(cast[username])
    page = client.get("/inbox/").content.decode()
    nav = page[page.index('<nav class="mainnav">'):page.index("</nav>")]
    assert {item for item, url in NAV.items() if f'href="{url}"' in nav} == shown
    assert 'href="/inbox/"' in nav  # everyone has an inbox


def test_the_security_admin_keeps_policies_in_the_admin_and_the_change_is_audited(cast):
    from portal.models import AuditEvent
    from provisioning.models import ApprovalPolicy

    secadmin = cast["secadmin"]
    client = Client()
    client.force_login(secadmin)
    assert "审批策略" in client.get("/admin/").content.decode()
    response = client.post("/admin/provisioning/approvalpolicy/add/", {
        "name": "教育云审批", "tier": "", "enabled": "on",
        "stages-TOTAL_FORMS": "1", "stages-INITIAL_FORMS": "0", "stages-MIN_NUM_FORMS": "0",
        "stages-MAX_NUM_FORMS": "1000",
        "stages-0-order": "1", "stages-0-name": "单位审批", "stages-0-approver_role": "agency_approver",
        "stages-0-mode": "any", "stages-0-required_approvals": "1", "stages-0-condition": "always",
        "stages-0-condition_value": "", "stages-0-sla_hours": "24",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    policy = ApprovalPolicy.objects.get(name="教育云审批")
    assert policy.stages.count() == 1
    actions = set(AuditEvent.objects.filter(actor=secadmin).values_list("action", flat=True))
    assert {"approvalpolicy.create", "policystage.change"} <= actions
