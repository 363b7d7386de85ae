"""Notifications are kept untranslated and rendered in the reader's language when read: the inbox page in the
language of the page, an email in the language its recipient last picked."""
import pytest
from django.core import mail
from django.utils import translation

from provisioning.models import Notification, PolicyStage
from provisioning.services.notifications import notify
from provisioning.tasks import notification_send
from tests.provisioning.clients import signed_in
from tests.provisioning.test_requests import awaiting

pytestmark = pytest.mark.django_db


def english(client):
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    return client


def test_the_stage_opening_message_reads_in_the_language_of_the_page(journey):
    request = awaiting(journey["requester"], journey["offering"])
    note = Notification.objects.get(recipient=journey["approver"])
    assert note.subject.startswith("待您审批") and request.number in note.subject  # the record, in Chinese
    client = signed_in(journey["approver"])
    assert "待您审批" in client.get("/inbox/").content.decode()
    page = english(client).get("/inbox/").content.decode()
    assert f"Awaiting your approval: {request.number}" in page
    assert "待您审批" not in page


def test_stage_and_agency_names_in_a_message_follow_the_reader(journey):
    agency = journey["requester"].agency
    agency.name_en = "Provincial Data Bureau"
    agency.save()
    PolicyStage.objects.filter(name="单位审批").update(name_en="Agency sign-off")
    awaiting(journey["requester"], journey["offering"])
    note = Notification.objects.get(recipient=journey["approver"])
    with translation.override("en"):
        assert "Provincial Data Bureau" in note.body_text and "Agency sign-off" in note.body_text
        assert agency.name not in note.body_text and "单位审批" not in note.body_text
    with translation.override("zh-hans"):
        assert agency.name in note.body_text and "单位审批" in note.body_text


def test_a_message_written_before_the_reader_switched_follows_the_switch(journey):
    """The same stored row reads in both languages: it was not rendered once and for all when sent."""
    note = notify([journey["requester"]], kind="request_completed", subject="申请已完成：%(number)s", params={"number": "REQ-000042"})[0]
    with translation.override("en"):
        assert note.subject_text == "Request completed: REQ-000042"
    with translation.override("zh-hans"):
        assert note.subject_text == "申请已完成：REQ-000042"


def test_the_email_speaks_the_language_its_recipient_picked(journey):
    requester = journey["requester"]
    signed = english(signed_in(requester))
    requester.refresh_from_db()
    assert requester.language == "en"
    assert signed.cookies["django_language"].value == "en"
    requester.email = "clerk@example.gov.cn"
    requester.save()
    note = notify([requester], kind="request_completed", subject="申请已完成：%(number)s", body="您的申请“%(title)s”已执行完成。",
                  params={"number": "REQ-000042", "title": "web-01"})[0]
    notification_send.run(note.pk)
    sent = mail.outbox[-1]
    assert "Request completed: REQ-000042" in sent.subject and "web-01" in sent.body
    assert "申请" not in sent.subject + sent.body


def test_an_unknown_language_code_changes_nothing(journey):
    client = signed_in(journey["requester"])
    client.post("/i18n/setlang/", {"language": "xx", "next": "/"})
    journey["requester"].refresh_from_db()
    assert journey["requester"].language == ""


def test_the_language_switch_changes_nothing_on_get(journey):
    response = signed_in(journey["requester"]).get("/i18n/setlang/?language=en")
    journey["requester"].refresh_from_db()
    assert journey["requester"].language == "" and response.status_code == 405
