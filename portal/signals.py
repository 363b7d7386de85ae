"""Logins, logouts, failed logins and lockouts go to the audit trail."""
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from .audit import client_ip
from .choices import AuditOutcome
from .selectors import lockout_ends_at
from .services import audit_record, user_signed_out


@receiver(user_logged_in, dispatch_uid="portal.audit_login")
def audit_login(sender, request, user, **kwargs) -> None:
    audit_record(actor=user, action="auth.login", obj=user, source_ip=client_ip(request) if request else None)


@receiver(user_logged_out, dispatch_uid="portal.audit_logout")
def audit_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        user_signed_out(
            actor=user,
            reason=getattr(request, "portal_logout_reason", "logout"),
            source_ip=client_ip(request) if request else None,
        )


@receiver(user_login_failed, dispatch_uid="portal.audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs) -> None:
    if request is not None and getattr(request, "portal_lockout_refused", False):
        return  # refused during a lockout: audit_lockout records it
    # The password never reaches the trail; Django has already masked it in `credentials`.
    audit_record(
        actor=None,
        actor_username=str(credentials.get("username", ""))[:150],
        action="auth.login",
        outcome=AuditOutcome.FAILURE,
        source_ip=client_ip(request) if request else None,
    )


@receiver(user_locked_out, dispatch_uid="portal.audit_lockout")
def audit_lockout(sender, request, username, ip_address, **kwargs) -> None:
    """Sent by axes when a failure reaches the limit, and for each attempt refused while locked out."""
    ends = lockout_ends_at(username=username, address=ip_address)
    audit_record(
        actor=None,
        actor_username=str(username or "")[:150],
        action="auth.lockout",
        outcome=AuditOutcome.DENIED if getattr(request, "portal_lockout_refused", False) else AuditOutcome.FAILURE,
        source_ip=ip_address,
        details={"until": ends, "refused": bool(getattr(request, "portal_lockout_refused", False))},
    )
