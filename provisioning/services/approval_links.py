"""Approve where the message is: the approve and reject links of a stage-opened message.

A link is django.core.signing's signature (salted) over the stage, the user, the decision and a nonce; the
nonce is an ApprovalLink row, spent by the first decision taken through either link. Opening a link only shows
a confirmation page in the portal (signed in, as the same user); the decision is the confirmation form's POST,
through the same request_approve / request_reject the approval inbox calls.
"""
import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import ApprovalLink

from ..choices import StageStatus
from ..models import Notification, RequestStage

SALT = "portal.approval-link"
DECISIONS = ("approve", "reject")


def approval_link_create(notification: Notification, stage: RequestStage) -> ApprovalLink:
    """The nonce behind one approver's links, in the transaction that opened the stage."""
    return ApprovalLink.objects.create(
        nonce=secrets.token_urlsafe(24), user=notification.recipient, stage=stage, notification=notification,
        expires_at=timezone.now() + timedelta(hours=settings.APPROVAL_LINK_HOURS),
    )


def approval_link_token(link: ApprovalLink, decision: str) -> str:
    return signing.dumps({"s": link.stage_id, "u": link.user_id, "d": decision, "n": link.nonce}, salt=SALT)


def approval_link_urls(notification: Notification) -> list[tuple[str, str, str]]:
    """(decision, label, absolute URL) for the notification's links, in the active language; none when the
    message has no links or its stage is no longer open."""
    link = ApprovalLink.objects.filter(notification=notification, used_at__isnull=True).select_related("stage").first()
    if link is None or link.stage.status != StageStatus.OPEN or link.expires_at <= timezone.now():
        return []
    labels = {"approve": _("同意"), "reject": _("驳回")}
    return [
        (
            decision, labels[decision],
            settings.PORTAL_BASE_URL + reverse("provisioning:approval_link", args=[approval_link_token(link, decision)]),
        )
        for decision in DECISIONS
    ]
