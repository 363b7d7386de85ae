"""The one door of every status machine: a compare-and-set against its table in choices.py, audited in the
same transaction. Each machine's own helper (request_move, run_move, stage_move, instance_move,
reservation_move) says how its refusals read and what its audit event carries; nothing else assigns `.status`.
"""
from collections.abc import Callable

from django.db import transaction

from portal.errors import Conflict
from portal.services import audit_record


def compare_and_set(
    obj,
    to_status: str,
    *,
    transitions: dict[str, set[str]],
    illegal: Callable[[str, str], str],
    stale: str,
    audit: dict,
    **fields,
):
    """Move `obj` from the status it holds in memory to `to_status`, or raise Conflict: `illegal(from, to)` when
    the table forbids the move, `stale` when somebody else moved it first. Returns `obj`, updated in memory."""
    from_status = obj.status
    if to_status not in transitions[from_status]:
        raise Conflict(illegal(from_status, to_status))
    with transaction.atomic():
        moved = type(obj).objects.filter(pk=obj.pk, status=from_status).update(status=to_status, **fields)
        if moved != 1:
            raise Conflict(stale)
        audit_record(**{**audit, "details": {"from": from_status, **audit.get("details", {})}})
    for name, value in fields.items():
        if not hasattr(value, "resolve_expression"):
            setattr(obj, name, value)
    obj.status = to_status
    return obj


def rows_move(queryset, from_status: str, to_status: str, *, transitions: dict[str, set[str]], **fields) -> int:
    """Compare-and-set for rows that record their own history and are not audited one by one (outbox
    deliveries: the table is the record): move those of `queryset` still at `from_status`; returns how many."""
    if to_status not in transitions[from_status]:
        raise ValueError(f"{from_status} -> {to_status} is not in the table")
    return queryset.filter(status=from_status).update(status=to_status, **fields)
