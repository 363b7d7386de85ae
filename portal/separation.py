"""三员分立 (separation of the three administrators), held by the models rather than by forms.

- The system, security and audit admins are three people: nobody holds two of those roles, and an admin holds
  no other role beside theirs.
- What a role may do is the code's table (portal.roles.ROLE_PERMISSIONS): a role group's permissions change
  only through sync_role_groups; nobody gets a permission of their own (user_permissions) outside a role.
- is_superuser belongs to the break-glass account alone, which only `manage.py break_glass` makes (audited);
  that account holds no role.

Every refusal is a ValidationError with a message a person can act on, raised from the model layer (signals
on the many-to-many tables and User.save), so no admin page, API or shell call gets around it by skipping a
form.
"""
import contextvars
from contextlib import contextmanager

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from .choices import ADMIN_ROLES, Role

_syncing_roles: contextvars.ContextVar[bool] = contextvars.ContextVar("syncing_roles", default=False)
_making_break_glass: contextvars.ContextVar[bool] = contextvars.ContextVar("making_break_glass", default=False)


@contextmanager
def role_sync():
    """The one place role groups' permissions are written from (portal.roles.sync_role_groups)."""
    token = _syncing_roles.set(True)
    try:
        yield
    finally:
        _syncing_roles.reset(token)


@contextmanager
def break_glass_making():
    """The one place a superuser is made from (the break_glass command)."""
    token = _making_break_glass.set(True)
    try:
        yield
    finally:
        _making_break_glass.reset(token)


def role_of_group(name: str) -> str | None:
    """The role a group carries: the role group itself, or a scoped group "agency:<code>:<role>"."""
    role = name.rsplit(":", 1)[-1]
    return role if role in Role.values else None


def roles_check(user, roles: set[str]) -> None:
    """Refuse a set of roles one person may not hold."""
    if user.is_superuser and roles:
        raise ValidationError(_("应急账号不能担任任何角色。"), code="break_glass_roles")
    admin = sorted(roles & ADMIN_ROLES)
    if len(admin) > 1:
        raise ValidationError(
            _("三员分立：同一人不能同时担任%(roles)s。")
            % {"roles": pgettext("list separator", "、").join(str(Role(role).label) for role in admin)},
            code="separation",
        )
    if admin and len(roles) > 1:
        others = sorted(roles - set(admin))
        raise ValidationError(
            _("三员分立：%(admin)s不能同时担任其他角色（%(others)s）。") % {
                "admin": Role(admin[0]).label,
                "others": pgettext("list separator", "、").join(str(Role(role).label) for role in others),
            },
            code="separation",
        )


def roles_held(user, extra_group_ids=()) -> set[str]:
    names = list(user.groups.values_list("name", flat=True)) if user.pk else []
    names += list(Group.objects.filter(pk__in=list(extra_group_ids)).values_list("name", flat=True))
    return {role for role in map(role_of_group, names) if role}


def superuser_check(user, was) -> None:
    """User.save: is_superuser only on the break-glass account; that flag set only by the break_glass command."""
    if user.is_superuser and not user.is_break_glass:
        raise ValidationError(_("只有应急账号可以是超级用户；应急账号只能用 break_glass 命令创建。"), code="superuser")
    if user.is_break_glass and not (was is not None and was.is_break_glass) and not _making_break_glass.get():
        raise ValidationError(_("应急账号只能用 break_glass 命令创建。"), code="break_glass")
    if user.is_break_glass and user.pk and roles_held(user):
        raise ValidationError(_("应急账号不能担任任何角色。"), code="break_glass_roles")


def group_permissions_check() -> None:
    if not _syncing_roles.get():
        raise ValidationError(_("角色的权限由系统固定，不能修改。"), code="fixed_roles")


def user_permissions_refused() -> None:
    raise ValidationError(_("权限只能通过角色授予，不能直接授予个人。"), code="no_direct_permissions")
