"""What every page's shell needs: the user's roles, unread messages, approvals waiting and, for operators,
runs waiting for their verdict."""
from .landing import nav_for_user
from .permissions import user_can, user_roles


def shell(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_roles": []}
    from provisioning.selectors import approval_inbox_for_user, reconcile_count, unread_count

    return {
        "user_roles": user_roles(user),
        "nav": nav_for_user(user),
        "unread_count": unread_count(user),
        "approval_count": approval_inbox_for_user(user).count(),
        "can_reconcile": user_can(user, "provisioning.reconcile_run"),
        "reconcile_count": reconcile_count(user),
    }
