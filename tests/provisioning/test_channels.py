"""Messages beyond the inbox: a real SMTP server (aiosmtpd) and a local HTTP receiver that checks DingTalk's
signature and the webhook's HMAC, the outbox's retries and at-most-once sending, and the approve/reject links."""
import base64
import email
import email.policy
import hashlib
import hmac
import json
import re
import socket
import threading
import urllib.parse
from datetime import timedelta
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from portal.choices import ChannelKind, DeliveryStatus, EventKind
from portal.models import ApprovalLink, AuditEvent, NotificationChannel, NotificationDelivery
from provisioning.choices import Decision, RequestStatus, StageStatus
from provisioning.models import Approval, Notification
from provisioning.services import channels as channel_services
from provisioning.services import requests as svc
from provisioning.services.notifications import notify
from provisioning.tasks import notification_send
from tests.provisioning.clients import signed_in
from tests.provisioning.test_requests import awaiting

pytestmark = pytest.mark.django_db

DING_SECRET = "SECdingtalk-test-secret"
HOOK_SECRET = "webhook-test-secret"
BASE = "https://portal.example.gov.cn"


# A real SMTP server -----------------------------------------------------------------------------------------


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append({"to": envelope.rcpt_tos, "subject": str(make_header(decode_header(parsed["Subject"]))),
                              "body": parsed.get_body(preferencelist=("plain",)).get_content()})
        return "250 OK"


@pytest.fixture(autouse=True)
def no_retry_broker():
    """Retries are woken through Celery too; here the tests call the sender themselves."""
    with mock.patch("provisioning.tasks.delivery_send.apply_async") as retries:
        yield retries


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks it is up by connecting to the port it was given)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.PORTAL_BASE_URL = BASE
    yield inbox
    controller.stop()


# A local HTTP receiver --------------------------------------------------------------------------------------


class Receiver:
    """Records each POST, says whether its signature checks out, and answers with the next status queued."""

    def __init__(self):
        self.requests = []
        self.statuses = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                outer.requests.append({
                    "path": url.path, "query": query, "headers": dict(self.headers), "body": body,
                    "json": json.loads(body), "dingtalk_ok": outer.dingtalk_ok(query),
                    "webhook_ok": outer.webhook_ok(self.headers, body),
                })
                status = outer.statuses.pop(0) if outer.statuses else 200
                answer = json.dumps({"errcode": 0, "errmsg": "ok"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def dingtalk_ok(query: dict) -> bool:
        if "timestamp" not in query or "sign" not in query:
            return False
        expected = base64.b64encode(
            hmac.new(DING_SECRET.encode(), f"{query['timestamp']}\n{DING_SECRET}".encode(), hashlib.sha256).digest()
        ).decode()
        return hmac.compare_digest(expected, query["sign"])

    @staticmethod
    def webhook_ok(headers, body: bytes) -> bool:
        timestamp, signature = headers.get("X-Portal-Timestamp"), headers.get("X-Portal-Signature", "")
        if not timestamp:
            return False
        expected = hmac.new(HOOK_SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(f"sha256={expected}", signature)


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


def robot(user, kind, url, *, secret="", events=(EventKind.STAGE_OPENED,)):
    channel = channel_services.channel_create(actor=user, kind=kind, name=f"{kind} 群", url=url, secret=secret)
    channel.events = list(events)
    channel.save()
    return channel


def english_approver(journey):
    approver = journey["approver"]
    approver.language = "en"
    approver.save()
    return approver


def links(text: str) -> list[str]:
    return re.findall(r"https://portal\.example\.gov\.cn/\S+?(?=[)\s]|$)", text)


# Sending ----------------------------------------------------------------------------------------------------


def test_a_stage_opening_mails_and_posts_to_dingtalk_in_the_approvers_language(
    journey, smtp, receiver, no_broker, django_capture_on_commit_callbacks
):
    approver = english_approver(journey)
    robot(approver, ChannelKind.DINGTALK, f"{receiver.url}/robot/send?access_token=tok123", secret=DING_SECRET)
    with django_capture_on_commit_callbacks(execute=True):
        request = awaiting(journey["requester"], journey["offering"])
    note = Notification.objects.get(recipient=approver)
    # The wake-up went out after commit, for this entry; the worker's task does the sending.
    assert any(note.pk in call.args[0] for call in no_broker["mails"].call_args_list if call.args)
    assert notification_send.run(note.pk) == {"sent": 2}

    [mail] = [m for m in smtp.messages if approver.email in m["to"]]
    assert f"Awaiting your approval: {request.number}" in mail["subject"]
    assert "待您审批" not in mail["subject"] + mail["body"]
    urls = links(mail["body"])
    assert f"{BASE}/requests/{request.pk}/" in urls
    assert sum("/approve-link/" in url for url in urls) == 2  # approve and reject

    [posted] = receiver.requests
    assert posted["path"] == "/robot/send" and posted["query"]["access_token"] == "tok123"
    assert posted["dingtalk_ok"], "DingTalk's signature must check out"
    markdown = posted["json"]["markdown"]
    assert posted["json"]["msgtype"] == "markdown"
    assert markdown["title"].startswith(f"Awaiting your approval: {request.number}")
    assert f"{BASE}/requests/{request.pk}/" in markdown["text"] and "Approve" in markdown["text"]
    assert set(NotificationDelivery.objects.filter(notification=note).values_list("status", flat=True)) == {"sent"}


def test_wecom_gets_its_markdown_and_each_kind_goes_only_where_it_was_chosen(journey, smtp, receiver):
    approver = journey["approver"]
    robot(approver, ChannelKind.WECOM, f"{receiver.url}/cgi-bin/webhook/send?key=k1")
    robot(approver, ChannelKind.WEBHOOK, f"{receiver.url}/hook", secret=HOOK_SECRET, events=[EventKind.SLA_OVERDUE])
    request = awaiting(journey["requester"], journey["offering"])
    note = Notification.objects.get(recipient=approver)
    assert sorted(NotificationDelivery.objects.filter(notification=note).values_list("channel__kind", flat=True)) == [
        "email", "wecom"
    ]
    notification_send.run(note.pk)
    [posted] = receiver.requests
    assert posted["path"] == "/cgi-bin/webhook/send" and posted["json"]["msgtype"] == "markdown"
    assert request.number in posted["json"]["markdown"]["content"] and "待您审批" in posted["json"]["markdown"]["content"]


def test_a_webhook_is_signed_and_a_500_is_retried_with_backoff(journey, receiver, settings):
    settings.DELIVERY_BACKOFF_SECONDS = 30
    requester = journey["requester"]
    hook = robot(requester, ChannelKind.WEBHOOK, f"{receiver.url}/hook", secret=HOOK_SECRET,
                 events=[EventKind.REQUEST_COMPLETED])
    receiver.statuses = [500, 500]
    [note] = notify([requester], kind=EventKind.REQUEST_COMPLETED, subject="申请已完成：%(number)s",
                    params={"number": "REQ-000042"})
    row = NotificationDelivery.objects.get(notification=note, channel=hook)
    start = timezone.now()

    assert channel_services.delivery_send(row.pk, now=start) == "retry"
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.PENDING, 1, "HTTP 500")
    assert row.next_attempt_at == start + timedelta(seconds=30)
    assert channel_services.delivery_send(row.pk, now=start + timedelta(seconds=10)) == "skipped"  # not due yet

    assert channel_services.outbox_sweep(now=start + timedelta(seconds=31))["retry"] == 1
    row.refresh_from_db()
    assert row.attempts == 2 and row.next_attempt_at == start + timedelta(seconds=31 + 60)  # doubled
    assert channel_services.outbox_sweep(now=start + timedelta(seconds=60))["stale"] == 0
    assert NotificationDelivery.objects.get(pk=row.pk).attempts == 2  # still waiting out its backoff

    assert channel_services.outbox_sweep(now=start + timedelta(seconds=92)).get("sent") == 1
    row.refresh_from_db()
    assert row.status == DeliveryStatus.SENT and row.last_error == ""
    assert len(receiver.requests) == 3 and all(r["webhook_ok"] for r in receiver.requests)
    body = receiver.requests[-1]["json"]
    assert body["event"] == "request_completed" and body["subject"] == "申请已完成：REQ-000042"
    assert receiver.requests[-1]["headers"]["X-Portal-Delivery"] == str(row.pk)
    # A wrong secret would not verify: the receiver's check is a real one.
    assert not Receiver.webhook_ok({"X-Portal-Timestamp": "1", "X-Portal-Signature": "sha256=00"}, b"{}")


def test_a_channel_that_keeps_failing_is_given_up_and_its_error_names_no_secret(journey, settings, receiver):
    settings.DELIVERY_MAX_ATTEMPTS = 2
    requester = journey["requester"]
    hook = robot(requester, ChannelKind.DINGTALK, f"{receiver.url}/robot/send?access_token=very-secret-token",
                 secret=DING_SECRET, events=[EventKind.REQUEST_FAILED])
    receiver.statuses = [500, 500, 500]

    [note] = notify([requester], kind=EventKind.REQUEST_FAILED, subject="申请失败：%(number)s", params={"number": "R-1"})
    row = NotificationDelivery.objects.get(notification=note, channel=hook)
    assert channel_services.delivery_send(row.pk) == "retry"
    assert channel_services.delivery_send(row.pk, now=timezone.now() + timedelta(hours=1)) == "failed"
    row.refresh_from_db()
    assert row.status == DeliveryStatus.FAILED and row.attempts == 2
    assert "very-secret-token" not in row.last_error and DING_SECRET not in row.last_error
    channel_services.outbox_sweep(now=timezone.now() + timedelta(days=1))  # a given-up row is not tried again
    assert len(receiver.requests) == 2 and NotificationDelivery.objects.get(pk=row.pk).attempts == 2


def test_the_transition_commits_when_the_channel_and_the_broker_fail(
    journey, smtp, receiver, no_broker, django_capture_on_commit_callbacks
):
    """Robot answers 500 and the broker refuses the wake-up: the approval still commits and the rows wait."""
    approver = journey["approver"]
    robot(approver, ChannelKind.DINGTALK, f"{receiver.url}/robot/send", secret=DING_SECRET)
    request = awaiting(journey["requester"], journey["offering"])
    robot(journey["owner"], ChannelKind.DINGTALK, f"{receiver.url}/robot/send", secret=DING_SECRET)
    receiver.statuses = [500]
    # The worker runs the task at once; the first send's robot answers 500.
    no_broker["mails"].side_effect = lambda args=(), kwargs=None, **options: notification_send.run(*args)
    with django_capture_on_commit_callbacks(execute=True):
        svc.request_approve(actor=approver, request=request, comment="同意")
    request.refresh_from_db()
    owner_rows = NotificationDelivery.objects.filter(notification__recipient=journey["owner"])
    assert request.stages.get(order=2).status == StageStatus.OPEN
    assert set(owner_rows.values_list("status", flat=True)) == {"sent", "pending"}
    assert owner_rows.get(status="pending").last_error == "HTTP 500"

    no_broker["mails"].side_effect = ConnectionError("broker down")
    second = awaiting(journey["requester"], journey["offering"], title="second")
    with django_capture_on_commit_callbacks(execute=True):
        svc.request_reject(actor=approver, request=second, comment="预算不足")
    second.refresh_from_db()
    assert second.status == RequestStatus.REJECTED
    waiting = NotificationDelivery.objects.filter(notification__request=second, status="pending", attempts=0)
    assert waiting.exists()  # the beat's sweep sends them
    channel_services.outbox_sweep()
    assert not waiting.exists()


def test_each_row_is_sent_at_most_once(journey, smtp):
    requester = journey["requester"]
    [note] = notify([requester], kind=EventKind.REQUEST_COMPLETED, subject="申请已完成：%(number)s",
                    params={"number": "REQ-7"})
    assert channel_services.outbox_add(note, EventKind.REQUEST_COMPLETED)  # again: the same row, not a second
    assert NotificationDelivery.objects.filter(notification=note).count() == 1
    notification_send.run(note.pk)
    notification_send.run(note.pk)
    channel_services.outbox_sweep(now=timezone.now() + timedelta(days=1))
    assert len(smtp.messages) == 1
    # A sender that died mid-send leaves the row "sending": it is given up, never sent a second time.
    [again] = notify([requester], kind=EventKind.REQUEST_COMPLETED, subject="申请已完成：%(number)s",
                     params={"number": "REQ-8"})
    row = NotificationDelivery.objects.get(notification=again)
    NotificationDelivery.objects.filter(pk=row.pk).update(
        status=DeliveryStatus.SENDING, attempts=1, claimed_at=timezone.now() - timedelta(hours=1)
    )
    assert channel_services.outbox_sweep()["stale"] == 1
    assert NotificationDelivery.objects.get(pk=row.pk).status == DeliveryStatus.FAILED
    assert len(smtp.messages) == 1


def test_a_kind_switched_off_sends_nothing_but_the_inbox(journey, smtp):
    approver = journey["approver"]
    channel = channel_services.email_channel(approver)
    channel_services.channel_choices_save(actor=approver, choices={channel.pk: {EventKind.LEASE_ENDING}})
    awaiting(journey["requester"], journey["offering"])
    note = Notification.objects.get(recipient=approver)
    assert not NotificationDelivery.objects.filter(notification=note).exists()


# Approve where the message is -------------------------------------------------------------------------------


def approval_links(journey, smtp):
    request = awaiting(journey["requester"], journey["offering"])
    note = Notification.objects.get(recipient=journey["approver"])
    notification_send.run(note.pk)
    [mail] = smtp.messages
    approve, reject = [url.removeprefix(BASE) for url in links(mail["body"]) if "/approve-link/" in url]
    return request, approve, reject


def test_the_link_confirms_on_get_and_approves_on_post_once(journey, smtp):
    request, approve, reject = approval_links(journey, smtp)
    client = signed_in(journey["approver"])
    page = client.get(approve)
    assert page.status_code == 200 and request.number in page.content.decode()
    assert 'method="post"' in page.content.decode()
    assert not Approval.objects.filter(request=request).exists()  # GET changes nothing
    assert request.stages.get(order=1).status == StageStatus.OPEN

    done = client.post(approve, {"comment": "同意上云"})
    assert done.status_code == 302 and done["Location"] == f"/requests/{request.pk}/"
    approval = Approval.objects.get(request=request)
    assert (approval.approver, approval.decision, approval.comment) == (journey["approver"], Decision.APPROVE, "同意上云")
    assert request.stages.get(order=1).status == StageStatus.APPROVED
    assert AuditEvent.objects.filter(action="approval.link_used", object_id=str(request.pk)).exists()
    assert ApprovalLink.objects.get(user=journey["approver"]).used_at is not None

    for used in (approve, reject):
        again = client.get(used)
        assert again.status_code == 400 and "已使用过" in again.content.decode()
    assert client.post(reject, {"comment": "不行"}).status_code == 400
    assert Approval.objects.filter(request=request).count() == 1


def test_another_users_a_tampered_or_an_expired_link_is_refused(journey, smtp):
    request, approve, reject = approval_links(journey, smtp)
    other = signed_in(journey["owner"])
    page = other.get(approve)
    assert page.status_code == 403 and "其他用户" in page.content.decode()
    assert other.post(approve, {"comment": ""}).status_code == 403
    assert not Approval.objects.filter(request=request).exists()

    approver = signed_in(journey["approver"])
    token = approve.rstrip("/").rsplit("/", 1)[1]
    forged = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
    assert "无效" in approver.get(f"/approve-link/{forged}/").content.decode()
    anonymous = signed_in(journey["approver"])
    anonymous.logout()
    assert anonymous.get(approve)["Location"].startswith("/login/")

    # The approver's role taken away: the link leads nowhere, and shows nothing of the request.
    groups = list(journey["approver"].groups.all())
    journey["approver"].groups.clear()
    gone = approver.get(approve)
    assert gone.status_code == 403 and request.title not in gone.content.decode()
    assert approver.post(approve, {"comment": "同意"}).status_code == 403
    journey["approver"].groups.set(groups)

    ApprovalLink.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    expired = approver.get(reject)
    assert expired.status_code == 400 and "已过期" in expired.content.decode()
    assert not Approval.objects.filter(request=request).exists()


def test_a_rejection_by_link_needs_a_comment_and_keeps_the_link_until_then(journey, smtp):
    request, _approve, reject = approval_links(journey, smtp)
    client = signed_in(journey["approver"])
    assert client.post(reject, {"comment": " "}).status_code == 400
    assert ApprovalLink.objects.get(user=journey["approver"]).used_at is None
    assert client.post(reject, {"comment": "预算不足"}).status_code == 302
    request.refresh_from_db()
    assert request.status == RequestStatus.REJECTED


# The settings page ------------------------------------------------------------------------------------------


def test_the_page_adds_a_channel_keeps_its_secret_and_saves_the_choices(journey, receiver):
    user = journey["requester"]
    client = signed_in(user)
    page = client.get("/inbox/channels/")
    assert page.status_code == 200 and "账号邮箱" in page.content.decode()
    url = f"{receiver.url}/robot/send?access_token=page-secret-token"
    created = client.post("/inbox/channels/new/", {"kind": "dingtalk", "name": "运维群", "url": url, "secret": DING_SECRET})
    assert created.status_code == 302
    channel = NotificationChannel.objects.get(user=user, kind=ChannelKind.DINGTALK)
    assert "page-secret-token" not in channel.config_token and channel.config["url"] == url
    shown = client.get("/inbox/channels/").content.decode()
    assert "运维群" in shown and "page-secret-token" not in shown and DING_SECRET not in shown
    event = AuditEvent.objects.get(action="notification_channel.created")
    assert "page-secret-token" not in json.dumps(event.details) and DING_SECRET not in json.dumps(event.details)

    email = channel_services.email_channel(user)
    client.post("/inbox/channels/", {"choice": [f"{channel.pk}:stage_opened", f"{channel.pk}:request_failed",
                                                f"{channel.pk}:nonsense", f"{email.pk}:lease_ending"]})
    channel.refresh_from_db()
    email.refresh_from_db()
    assert channel.events == ["request_failed", "stage_opened"] and email.events == ["lease_ending"]

    tested = client.post(f"/inbox/channels/{channel.pk}/test/", follow=True)
    assert "测试消息已发送" in tested.content.decode()
    [posted] = receiver.requests
    assert posted["dingtalk_ok"] and "测试消息" in posted["json"]["markdown"]["title"]

    receiver.statuses = [500]
    failed = client.post(f"/inbox/channels/{channel.pk}/test/", follow=True).content.decode()
    assert "测试消息发送失败：HTTP 500" in failed and "page-secret-token" not in failed


def test_the_page_refuses_bad_input_and_other_peoples_channels(journey, settings):
    user, other = journey["requester"], journey["approver"]
    client = signed_in(user)
    bad = client.post("/inbox/channels/new/", {"kind": "wecom", "name": "群", "url": "ftp://example.com/x"})
    assert bad.status_code == 400 and "http://" in bad.content.decode()
    unsigned = client.post("/inbox/channels/new/", {"kind": "webhook", "name": "我的", "url": "https://example.com/h"})
    assert unsigned.status_code == 400 and "签名密钥" in unsigned.content.decode()
    assert client.post("/inbox/channels/new/", {"kind": "email", "name": "x", "url": "https://e.com"}).status_code == 400
    settings.CHANNEL_ALLOWED_HOSTS = ["oapi.dingtalk.com", ".example.gov.cn"]
    elsewhere = client.post("/inbox/channels/new/", {"kind": "wecom", "name": "群", "url": "http://127.0.0.1:5000/x"})
    assert elsewhere.status_code == 400 and "允许" in elsewhere.content.decode()
    assert client.post("/inbox/channels/new/", {"kind": "wecom", "name": "群", "url": "https://hooks.example.gov.cn/x"}).status_code == 302
    NotificationChannel.objects.filter(user=user, kind="wecom").delete()
    settings.CHANNEL_ALLOWED_HOSTS = []
    assert not NotificationChannel.objects.filter(user=user).exclude(kind="email").exists()

    theirs = robot(other, ChannelKind.WECOM, "https://qyapi.example.com/cgi-bin/webhook/send?key=k")
    assert client.post(f"/inbox/channels/{theirs.pk}/delete/").status_code == 404
    assert client.post(f"/inbox/channels/{theirs.pk}/test/").status_code == 404
    client.post("/inbox/channels/", {"choice": [f"{theirs.pk}:lease_ending"]})
    theirs.refresh_from_db()
    assert theirs.events == ["stage_opened"]
    mine = channel_services.email_channel(user)
    client.post(f"/inbox/channels/{mine.pk}/delete/")
    assert NotificationChannel.objects.filter(pk=mine.pk).exists()  # the account email stays
    assert signed_in(other).post(f"/inbox/channels/{theirs.pk}/delete/").status_code == 302
    assert not NotificationChannel.objects.filter(pk=theirs.pk).exists()


def test_the_page_is_linked_from_the_header_and_reads_in_english(journey):
    client = signed_in(journey["requester"])
    assert 'href="/inbox/channels/"' in client.get("/").content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/inbox/channels/").content.decode()
    assert "Notification settings" in page and "通知设置" not in page


def test_a_message_must_name_a_known_kind(journey):
    with pytest.raises(ValueError):
        notify([journey["requester"]], kind="whatever", subject="x")
    assert not Notification.objects.filter(recipient=journey["requester"]).exists()
