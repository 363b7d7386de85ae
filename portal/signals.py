"""Logins, logouts and failed logins go to the audit trail."""
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from .audit import client_ip
from .choices import AuditOutcome
from .services import audit_record


@receiver(user_logged_in, dispatch_uid="portal.audit_login")
def audit_login(sender, request, user, **kwargs) -> None:
    audit_record(actor=user, action="auth.login", obj=user, source_ip=client_ip(request) if request else None)


@receiver(user_logged_out, dispatch_uid="portal.audit_logout")
def audit_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_record(actor=user, action="auth.logout", obj=user, source_ip=client_ip(request) if request else None)


@receiver(user_login_failed, dispatch_uid="portal.audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # The password never reaches the trail; Django has already masked it in `credentials`.
    audit_record(
        actor=None,
        actor_username=str(credentials.get("username", ""))[:150],
        action="auth.login",
        outcome=AuditOutcome.FAILURE,
        source_ip=client_ip(request) if request else None,
    )
