"""What each role may do, and the groups that carry it.

A role is a Group named after it (portal.choices.Role) holding model-level permissions: what kind of thing
the role may do anywhere. Where a role is scoped (an agency's requesters and approvers, a cloud's owners),
its members also join a scoped group that holds guardian object permissions on that one Agency or Cloud.
`sync_role_groups` makes the database match this table; it runs after every migrate.
"""
from django.contrib.auth.models import Group, Permission

from .choices import ADMIN_ROLES, Role
from .separation import role_sync

CATALOGUE_READ = ["catalogue.view_cloud", "catalogue.view_service", "catalogue.view_offering"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.REQUESTER: [*CATALOGUE_READ],
    Role.AGENCY_APPROVER: [*CATALOGUE_READ],
    Role.CLOUD_OWNER: [*CATALOGUE_READ],
    Role.SECURITY_REVIEWER: [*CATALOGUE_READ],
    Role.FINANCE_REVIEWER: [*CATALOGUE_READ],
    Role.OPERATOR: [
        *CATALOGUE_READ, "portal.view_agency",
        "provisioning.view_request", "provisioning.view_instance", "provisioning.view_run",
        "provisioning.view_workspace", "provisioning.reconcile_run", "provisioning.change_request",
        "provisioning.view_quotalimit", "provisioning.decommission_instance",
    ],
    Role.SYSTEM_ADMIN: [
        *CATALOGUE_READ,
        "catalogue.add_cloud", "catalogue.change_cloud", "catalogue.delete_cloud",
        "catalogue.add_service", "catalogue.change_service", "catalogue.delete_service",
        "catalogue.add_offering", "catalogue.change_offering", "catalogue.delete_offering",
        "catalogue.view_moduleversion",
        "portal.add_agency", "portal.change_agency", "portal.view_agency",
        "portal.add_user", "portal.change_user", "portal.view_user",
    ],
    # Roles, approval policies, agency quotas and cloud capacity (QuotaLimit rows without an agency).
    Role.SECURITY_ADMIN: [
        "auth.view_group", "portal.assign_role",
        "portal.view_user", "portal.view_agency",
        "provisioning.view_quotalimit", "provisioning.add_quotalimit", "provisioning.change_quotalimit",
        "provisioning.delete_quotalimit",
        "provisioning.view_approvalpolicy", "provisioning.add_approvalpolicy", "provisioning.change_approvalpolicy",
        "provisioning.delete_approvalpolicy", "provisioning.view_policystage", "provisioning.add_policystage",
        "provisioning.change_policystage", "provisioning.delete_policystage",
    ],
    # The audit admin reads the trail and writes nothing (MLPS 2.0 separation of duties).
    Role.AUDIT_ADMIN: ["portal.view_auditevent", "provisioning.view_request", "provisioning.view_instance", "provisioning.view_run"],
}

# Roles that sign approval stages.
APPROVER_ROLES = {Role.AGENCY_APPROVER, Role.CLOUD_OWNER, Role.SECURITY_REVIEWER, Role.FINANCE_REVIEWER}

# Roles whose members work in the Django admin.
STAFF_ROLES = set(ADMIN_ROLES)

# Scoped roles: the object permissions their scoped group holds on its Agency or Cloud.
AGENCY_SCOPED = {
    Role.REQUESTER: ["portal.request_for_agency"],
    Role.AGENCY_APPROVER: ["portal.approve_for_agency"],
}
CLOUD_SCOPED = {
    Role.CLOUD_OWNER: ["catalogue.own_cloud"],
}


def scoped_group_name(kind: str, key: str, role: str) -> str:
    return f"{kind}:{key}:{role}"


def is_directory_managed(group_name: str) -> bool:
    """True for the groups a directory sign-in sets (role groups and scoped groups), never an admin role's."""
    if group_name in ADMIN_ROLES:
        return False
    return group_name in Role.values or group_name.split(":", 1)[0] in {"agency", "cloud"}


def resolve_permissions(names: list[str]) -> list[Permission]:
    found = []
    for name in names:
        app_label, codename = name.split(".", 1)
        found.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return found


def sync_role_groups() -> None:
    """Create the role groups and set exactly the permissions ROLE_PERMISSIONS gives them."""
    with role_sync():
        for role, names in ROLE_PERMISSIONS.items():
            group, _ = Group.objects.get_or_create(name=role)
            try:
                group.permissions.set(resolve_permissions(names))
            except Permission.DoesNotExist:
                # A permission of an app not migrated yet; the post_migrate of that app comes back here.
                continue
