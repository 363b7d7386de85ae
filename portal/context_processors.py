"""What every page's shell needs: the user's roles, unread messages, approvals waiting and, for operators,
runs waiting for their verdict.

The shell is worked out once per request (django-tables2 renders its table with the request's context, which
runs the context processors again), and its three counts are kept in the cache for SHELL_COUNTS_SECONDS per
user: they were most of a signed-in page's time, and a badge a few seconds late is fine.
"""
from django.conf import settings
from django.core.cache import cache

from .landing import nav_for_user
from .permissions import user_can, user_roles


def shell(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_roles": []}
    found = getattr(request, "_portal_shell", None)
    if found is None:
        roles = user_roles(user)
        can_reconcile = user_can(user, "provisioning.reconcile_run")
        found = request._portal_shell = {
            "user_roles": roles,
            "nav": nav_for_user(user, roles),
            "can_reconcile": can_reconcile,
            **shell_counts(user),
        }
    return found


def shell_counts_key(user) -> str:
    return f"portal:shell-counts:{user.pk}"


def shell_counts(user) -> dict[str, int]:
    """The nav's counts for `user`, from the cache when they are fresh enough."""
    seconds = settings.SHELL_COUNTS_SECONDS
    counts = cache.get(shell_counts_key(user)) if seconds > 0 else None
    if counts is None:
        from provisioning.selectors import approval_inbox_for_user, reconcile_count, unread_count

        counts = {
            "unread_count": unread_count(user),
            "approval_count": approval_inbox_for_user(user).count(),
            "reconcile_count": reconcile_count(user),
        }
        if seconds > 0:
            cache.set(shell_counts_key(user), counts, seconds)
    return counts


def shell_counts_forget(user) -> None:
    """Drop the user's cached counts, after something they did changed them (read a message, signed)."""
    cache.delete(shell_counts_key(user))
