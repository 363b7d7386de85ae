"""The audit admin's pages of the trail (/audit/): search by actor, agency, action, outcome, object and days
(Beijing days over UTC timestamps), actions by name in both languages, the chain's state, the CSV export of
exactly the filtered events (itself audited), and nobody else let in."""
import csv
import datetime
import io
import re
from unittest import mock
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from portal.choices import AuditOutcome, Role
from portal.models import AuditEvent
from portal.services import audit_record
from tests.catalogue.factories import CloudFactory
from tests.portal.factories import UserFactory
from tests.provisioning.clients import html, signed_in

pytestmark = pytest.mark.django_db

URL = reverse("audit_event_list")
UTC = datetime.UTC


def rows(page: str) -> list[int]:
    """The event ids the page's table shows, in order."""
    return [int(pk) for pk in re.findall(r'data-event="(\d+)"', page)]


def at(when: datetime.datetime, **kwargs) -> AuditEvent:
    with mock.patch("portal.services.timezone.now", return_value=when):
        return audit_record(**kwargs)


@pytest.fixture
def trail(requester, other_requester, agency, other_agency):
    """Five events of two people in two agencies over two Beijing days."""
    return {
        "login": at(datetime.datetime(2026, 12, 1, 2, 0, tzinfo=UTC), actor=requester, action="auth.login", obj=requester),
        "grant": at(datetime.datetime(2026, 12, 1, 3, 0, tzinfo=UTC), actor=None, action="role.grant",
                    obj=other_requester, agency=other_agency),
        # 17:30 UTC on the 2nd is 01:30 on the 3rd in Beijing.
        "late": at(datetime.datetime(2026, 12, 2, 17, 30, tzinfo=UTC), actor=other_requester, action="auth.login",
                   obj=other_requester),
        "denied": at(datetime.datetime(2026, 12, 3, 1, 0, tzinfo=UTC), actor=other_requester, action="access.denied",
                     obj=agency, outcome=AuditOutcome.DENIED, details={"path": "/requests/1/"}),
        "failed": at(datetime.datetime(2026, 12, 3, 2, 0, tzinfo=UTC), actor=None, actor_username="ghost",
                     action="auth.login", outcome=AuditOutcome.FAILURE),
    }


def shown(auditor, **query) -> set[int]:
    return set(rows(html(auditor, f"{URL}?{urlencode(query)}")))


def names(trail, ids) -> set[str]:
    return {name for name, event in trail.items() if event.pk in ids}


@pytest.mark.parametrize(("query", "expected"), [
    ({"actor": "requester2"}, {"late", "denied"}),
    ({"actor": "ghost"}, {"failed"}),
    ({"agency": "tangshan"}, {"grant", "late"}),
    ({"action": "role.grant"}, {"grant"}),
    ({"action": "access.denied"}, {"denied"}),
    ({"outcome": "failure"}, {"failed"}),
    ({"object_type": "portal.agency"}, {"denied"}),
    ({"object_type": "portal.user", "object_id": "__requester2__"}, {"grant", "late"}),
    ({"object": "教育厅"}, {"denied"}),
    ({"occurred_after": "2026-12-03"}, {"late", "denied", "failed"}),
    ({"occurred_before": "2026-12-02"}, {"login", "grant"}),
    ({"occurred_after": "2026-12-02", "occurred_before": "2026-12-02"}, set()),
])
def test_the_page_filters_by_each_field(auditor, trail, other_requester, query, expected):
    query = {key: str(other_requester.pk) if value == "__requester2__" else value for key, value in query.items()}
    assert names(trail, shown(auditor, **query)) == expected


def test_the_newest_event_comes_first_and_times_show_in_beijing(auditor, trail):
    page = html(auditor, f"{URL}?actor=requester2")
    assert rows(page) == [trail["denied"].pk, trail["late"].pk]
    assert "2026-12-03 01:30:00" in page  # the 17:30 UTC login, in Beijing time


def test_an_unknown_choice_is_an_error_not_an_empty_list(auditor, trail):
    page = html(auditor, f"{URL}?action=no.such.action")
    assert "no.such.action" in page and 'class="invalid"' in page and rows(page) == []


def test_actions_show_by_name_in_chinese_and_english(auditor, trail):
    chinese = html(auditor, URL)
    assert ">授予角色<" in chinese and ">访问被拒绝<" in chinese
    # The action list offers names, the codes being the values.
    assert '<option value="role.grant">授予角色</option>' in chinese
    assert '<option value="request.awaiting_approval">申请：待审批</option>' in chinese
    client = signed_in(auditor)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get(URL).content.decode()
    assert ">Role granted<" in english and ">Access denied<" in english
    assert '<option value="role.grant">Role granted</option>' in english
    assert "授予角色" not in english


@pytest.mark.parametrize("role", [role for role in Role if role != Role.AUDIT_ADMIN])
def test_every_other_role_is_refused_and_the_attempt_audited(role, agency):
    scoped = (role, CloudFactory()) if role == Role.CLOUD_OWNER else role
    user = UserFactory(username=f"x-{role}", agency=agency, roles=[scoped])
    client = signed_in(user)
    assert client.get(URL).status_code == 403
    assert client.get(URL + "?export=csv").status_code == 403
    assert client.post(reverse("audit_verify")).status_code == 403
    assert not AuditEvent.objects.filter(action__in=["audit.exported", "audit.verified"]).exists()
    denied = AuditEvent.objects.filter(action="access.denied", actor=user)
    assert denied.count() == 3 and denied.first().details["reason"] == "审计日志只对审计管理员开放。"


def test_anonymous_goes_to_sign_in(db):
    response = Client().get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_nav_links_the_audit_page_for_the_audit_admin_only(auditor, requester, sysadmin):
    assert 'data-testid="nav-audit"' in html(auditor, reverse("dashboard"))
    for user in (requester, sysadmin):
        assert 'data-testid="nav-audit"' not in html(user, reverse("dashboard"))


def test_csv_export_holds_exactly_the_filtered_events_and_is_audited(auditor, trail):
    response = signed_in(auditor).get(URL, {"actor": "requester2", "export": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode().lstrip("\ufeff"))))
    header, body = lines[0], lines[1:]
    assert header[:3] == ["编号", "时间（北京时间）", "操作人账号"]
    assert [int(line[0]) for line in body] == [trail["denied"].pk, trail["late"].pk]
    assert body[0][4] == "访问被拒绝" and body[0][5] == "access.denied" and body[1][1] == "2026-12-03 01:30:00"
    exported = AuditEvent.objects.get(action="audit.exported")
    assert exported.actor == auditor and exported.details["filters"] == {"actor": "requester2"}
    # An export is in the trail before its rows are read: the next one lists the first and itself.
    again = signed_in(auditor).get(URL, {"action": "audit.exported", "export": "csv"})
    assert len(list(csv.reader(io.StringIO(b"".join(again.streaming_content).decode())))) == 1 + 2


def test_the_chain_state_shows_the_last_verification_and_what_came_after(auditor, trail):
    client = signed_in(auditor)
    page = client.get(URL).content.decode()
    assert 'data-testid="chain-verdict"' in page and "尚未校验。" in page
    page = client.post(reverse("audit_verify"), follow=True).content.decode()
    verdict = AuditEvent.objects.get(action="audit.verified")
    assert verdict.outcome == AuditOutcome.SUCCESS and verdict.actor == auditor
    assert verdict.details["checked"] == AuditEvent.objects.filter(pk__lt=verdict.pk).count()
    assert "审计链完整" in page and "尚未校验。" not in page
    audit_record(actor=None, actor_username="ghost", action="auth.login", outcome=AuditOutcome.FAILURE)
    assert "此后又记录了 1 条事件，尚未校验。" in client.get(URL).content.decode()


def test_a_broken_chain_is_shown_broken(auditor, trail):
    target = trail["grant"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute("UPDATE portal_auditevent SET details = '{\"forged\": 1}' WHERE id = %s", [target.pk])
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    else:
        AuditEvent.objects.filter(pk=target.pk).update(details={"forged": 1})
    page = signed_in(auditor).post(reverse("audit_verify"), follow=True).content.decode()
    assert f"审计链在事件 #{target.pk} 处断开" in page
    assert AuditEvent.objects.get(action="audit.verified").outcome == AuditOutcome.FAILURE


def test_verification_is_a_post_only(auditor):
    assert signed_in(auditor).get(reverse("audit_verify")).status_code == 405
    assert not AuditEvent.objects.filter(action="audit.verified").exists()


def test_objects_and_details_read_in_words_not_codes(auditor, trail):
    page = html(auditor, f"{URL}?actor=requester2")
    assert f"用户 #{trail['late'].object_id}" in page and ">portal.user #" not in page
    assert "路径: /requests/1/" in page and "path:" not in page
    client = signed_in(auditor)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get(URL, {"actor": "requester2"}).content.decode()
    assert f"User #{trail['late'].object_id}" in english and "Path: /requests/1/" in english


def test_an_export_records_only_the_filters_that_narrowed(auditor, trail):
    signed_in(auditor).get(URL, {"actor": "", "agency": "jyt", "object": "", "export": "csv"})
    assert AuditEvent.objects.get(action="audit.exported").details["filters"] == {"agency": "jyt"}


def test_a_denial_without_an_object_belongs_to_the_actors_agency(requester, auditor):
    signed_in(requester).get(URL)
    event = AuditEvent.objects.get(action="access.denied")
    assert event.agency == requester.agency and event.object_type == ""
    assert names({"denied": event}, shown(auditor, agency=requester.agency.code)) == {"denied"}


def test_a_status_in_the_details_reads_in_words(auditor, requester):
    audit_record(actor=requester, action="request.planning", details={"from": "submitted"})
    audit_record(actor=requester, action="request.create", details={"kind": "decommission"})
    page = html(auditor, f"{URL}?actor=requester")
    assert "原状态: 已提交" in page and "类型: 退订" in page
    client = signed_in(auditor)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "From status: Submitted" in client.get(URL, {"actor": "requester"}).content.decode()


def test_a_scheduled_verification_with_record_shows_on_the_audit_page(auditor):
    call_command("audit_verify", "--record", stdout=io.StringIO())
    verdict = AuditEvent.objects.filter(action="audit.verified").latest("id")
    assert verdict.outcome == "success" and verdict.details["checked"] >= 0 and verdict.actor is None
    client = Client()
    client.force_login(auditor)
    page = client.get("/audit/").content.decode()
    verdict_block = page.split('data-testid="chain-verdict"')[1].split("</dd>")[0]
    assert "完整" in verdict_block and f"{verdict.details['checked']} 条事件均完整" in verdict_block
