"""Where each role starts: the page it lands on after sign-in, what its home page says it does, and which
parts of the nav it can use. Only URL names and permissions: no app's models are read here."""
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .choices import Role
from .permissions import user_can, user_roles
from .roles import APPROVER_ROLES

# The page each role works on, in the order a user holding several roles is sent: a requester's home shows
# their requests and, for an approver too, what waits for them.
LANDING = [
    (Role.REQUESTER, "dashboard"),
    *((role, "provisioning:approval_inbox") for role in sorted(APPROVER_ROLES)),
    (Role.OPERATOR, "provisioning:operations"),
    (Role.SYSTEM_ADMIN, "admin:app_list", {"app_label": "catalogue"}),
    (Role.SECURITY_ADMIN, "admin:index"),
    (Role.AUDIT_ADMIN, "audit_event_list"),
]

# What the home page tells the roles whose work is not the catalogue, with the pages where it is done.
WORK = {
    Role.OPERATOR: (
        _("核对失去工作进程的运行，检查云上资源是否漂移，查看全部单位的资源清单。"),
        [(_("运维核对"), "provisioning:operations"), (_("资源清单"), "provisioning:instance_list")],
    ),
    Role.SYSTEM_ADMIN: (
        _("维护云、服务与上架规格，管理单位、用户和配额。"),
        [
            (_("服务目录管理"), "admin:app_list", {"app_label": "catalogue"}),
            (_("单位与用户"), "admin:app_list", {"app_label": "portal"}),
            (pgettext_lazy("plural", "配额"), "admin:provisioning_quotalimit_changelist"),
        ],
    ),
    Role.SECURITY_ADMIN: (
        _("维护角色与权限、审批策略。"),
        [
            (pgettext_lazy("plural", "审批策略"), "admin:provisioning_approvalpolicy_changelist"),
            (_("角色与权限"), "admin:auth_group_changelist"),
            (pgettext_lazy("plural", "用户"), "admin:portal_user_changelist"),
        ],
    ),
    Role.AUDIT_ADMIN: (
        _("查阅审计日志（只读）：登录、申请与审批、运行、权限与策略的每一次变更。"),
        [
            (_("审计日志"), "audit_event_list"),
            (_("全部申请"), "provisioning:request_list"),
            (_("资源清单"), "provisioning:instance_list"),
        ],
    ),
}


def _url(entry: tuple) -> str:
    name, *kwargs = entry
    return reverse(name, kwargs=kwargs[0] if kwargs else None)


def landing_url(user) -> str:
    """The first page of the user's first role; home for a user with no role yet."""
    roles = set(user_roles(user))
    for role, *target in LANDING:
        if role in roles:
            return _url(tuple(target))
    return reverse("dashboard")


def work_for_user(user) -> list[dict]:
    """What each of the user's non-catalogue roles does, with links to where it is done."""
    cards = []
    for role in user_roles(user):
        if role in WORK:
            text, links = WORK[role]
            cards.append({
                "role": Role(role).label,
                "text": text,
                "links": [(label, _url(tuple(target))) for label, *target in links],
            })
    return cards


def nav_for_user(user, roles: list[str] | None = None) -> dict[str, bool]:
    """Which parts of the nav the user can use: a link that would open an empty or refused page is left out.
    `roles`: the user's roles when the caller has read them already."""
    roles = set(user_roles(user) if roles is None else roles)
    signs = bool(roles & APPROVER_ROLES)
    return {
        "catalogue": user_can(user, "catalogue.view_cloud"),
        "requests": Role.REQUESTER in roles or signs or user_can(user, "provisioning.view_request"),
        "approvals": signs,
        "instances": bool(roles & {Role.REQUESTER, Role.AGENCY_APPROVER, Role.CLOUD_OWNER})
        or user_can(user, "provisioning.view_instance"),
        "capacity": Role.CLOUD_OWNER in roles or user_can(user, "provisioning.view_quotalimit"),
        "roles": user_can(user, "portal.assign_role"),
        "audit": user_can(user, "portal.view_auditevent"),
    }
