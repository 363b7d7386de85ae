"""Logins, logouts, failed logins and lockouts go to the audit trail. The separation of the three admins is
held here too, on the many-to-many tables no form guards (portal.separation).
"""
from axes.signals import user_locked_out
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from .audit import client_ip
from .choices import AuditOutcome
from .models import User
from .selectors import lockout_ends_at
from .separation import group_permissions_check, roles_check, roles_held, user_permissions_refused
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


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="portal.separation_groups")
def separation_on_groups(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if action != "pre_add" or not pk_set:
        return
    if not reverse:
        roles_check(instance, roles_held(instance, pk_set))
        return
    for user in User.objects.filter(pk__in=pk_set):
        roles_check(user, roles_held(user, [instance.pk]))


@receiver(m2m_changed, sender=Group.permissions.through, dispatch_uid="portal.fixed_roles")
def fixed_role_permissions(sender, action, **kwargs) -> None:
    if action in ("pre_add", "pre_remove", "pre_clear"):
        group_permissions_check()


@receiver(m2m_changed, sender=User.user_permissions.through, dispatch_uid="portal.no_direct_permissions")
def no_direct_permissions(sender, action, pk_set, **kwargs) -> None:
    if action == "pre_add" and pk_set:
        user_permissions_refused()
