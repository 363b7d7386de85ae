"""Using an approval link: the confirmation page's check, and the decision it POSTs, through the same service
call as the approval inbox. The links themselves are made in services/approval_links.py."""
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import ApprovalLink, User
from portal.services import audit_record

from ..choices import StageStatus
from ..models import Request
from ..selectors import approval_inbox_for_user
from . import requests as request_services
from .approval_links import DECISIONS, SALT


class LinkRefused(Exception):
    """The link cannot be used; `message` says why in words, `http_status` is the page's HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.http_status = status


def approval_link_check(token: str, user: User) -> tuple[ApprovalLink, str]:
    """The link's row and decision, or LinkRefused saying why it cannot be used by `user` now."""
    try:
        data = signing.loads(token, salt=SALT, max_age=timedelta(hours=settings.APPROVAL_LINK_HOURS))
    except signing.SignatureExpired:
        raise LinkRefused(_("该审批链接已过期，请在门户的“待我审批”中处理。")) from None
    except signing.BadSignature:
        raise LinkRefused(_("该审批链接无效（可能不完整或被修改过），请在门户的“待我审批”中处理。")) from None
    if not isinstance(data, dict) or data.get("d") not in DECISIONS:
        raise LinkRefused(_("该审批链接无效（可能不完整或被修改过），请在门户的“待我审批”中处理。"))
    link = (
        ApprovalLink.objects.filter(nonce=str(data.get("n", "")), stage_id=data.get("s"), user_id=data.get("u"))
        .select_related("stage__request")
        .first()
    )
    if link is None:
        raise LinkRefused(_("该审批链接无效（可能不完整或被修改过），请在门户的“待我审批”中处理。"))
    if link.user_id != user.pk:
        raise LinkRefused(_("该审批链接是发给其他用户的，您不能使用。请以收到该消息的账号登录。"), status=403)
    if link.used_at is not None:
        raise LinkRefused(_("该审批链接已使用过，每个链接只能使用一次。"))
    if link.expires_at <= timezone.now():
        raise LinkRefused(_("该审批链接已过期，请在门户的“待我审批”中处理。"))
    if link.stage.status != StageStatus.OPEN:
        raise LinkRefused(_("该审批环节已处理完毕，无需再审批。"))

    if not approval_inbox_for_user(user).filter(pk=link.stage.request_id).exists():
        # No longer theirs to sign (role taken away, or they signed another stage): the page shows nothing of it.
        raise LinkRefused(_("您当前不能审批该申请（可能已不再具有审批权限，或已签署过它的其他环节）。"), status=403)
    return link, data["d"]


@transaction.atomic
def approval_link_decide(*, actor: User, token: str, comment: str = "") -> tuple[Request, str]:
    """Take the link's decision as `actor`: the link is spent in the same transaction as the decision, so a
    refused decision (wrong stage, already signed, no comment on a rejection) leaves it usable."""

    link, decision = approval_link_check(token, actor)
    if not ApprovalLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=timezone.now()):
        raise LinkRefused(_("该审批链接已使用过，每个链接只能使用一次。"))
    request = link.stage.request
    if decision == "approve":
        request_services.request_approve(actor=actor, request=request, comment=comment)
    else:
        request_services.request_reject(actor=actor, request=request, comment=comment)
    audit_record(
        actor=actor, action="approval.link_used", obj=request, agency=request.agency,
        details={"decision": decision, "stage": link.stage.name, "order": link.stage.order},
    )
    return request, decision
