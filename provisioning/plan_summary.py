"""What approvers read: a plan reduced to one entry per resource, with sensitive values masked.

Input is `terraform show -json <planfile>`. Each entry says the action (create, update, replace, delete, or
import: an object taken over from outside Terraform, with what its apply changes on it) and,
per changed top-level attribute, the value before and after. Terraform's own sensitivity markers are honoured,
and every value also passes the run's redactor, so a secret is masked even where a module forgot to mark it.
"""
from collections.abc import Callable

from .choices import ResourceAction
from .terraform_client import MASK

UNKNOWN = "(known after apply)"


def action_of(actions: list[str]) -> str:
    if actions in (["delete", "create"], ["create", "delete"]):
        return ResourceAction.REPLACE
    if actions == ["create"]:
        return ResourceAction.CREATE
    if actions == ["delete"]:
        return ResourceAction.DELETE
    if actions == ["update"]:
        return ResourceAction.UPDATE
    if actions == ["read"]:
        return ResourceAction.READ
    return ResourceAction.NO_OP


def _masked(value, sensitive, redact: Callable[[str], str]):
    """The value with every part Terraform marks sensitive replaced by the mask, and strings redacted."""
    if sensitive is True:
        return MASK
    if isinstance(value, dict):
        marks = sensitive if isinstance(sensitive, dict) else {}
        return {key: _masked(item, marks.get(key), redact) for key, item in value.items()}
    if isinstance(value, list):
        marks = sensitive if isinstance(sensitive, list) else []
        return [_masked(item, marks[i] if i < len(marks) else None, redact) for i, item in enumerate(value)]
    if isinstance(value, str):
        return redact(value)
    return value


def _attribute_changes(change: dict, redact: Callable[[str], str]) -> list[dict]:
    before = change.get("before") or {}
    after = change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    before_sensitive = change.get("before_sensitive") or {}
    after_sensitive = change.get("after_sensitive") or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    rows = []
    for name in sorted({*before, *after, *(unknown if isinstance(unknown, dict) else {})}):
        if name == "id" and name not in after:
            continue
        old = _masked(before.get(name), before_sensitive.get(name) if isinstance(before_sensitive, dict) else None, redact)
        if isinstance(unknown, dict) and unknown.get(name) is True:
            new = UNKNOWN
        else:
            new = _masked(after.get(name), after_sensitive.get(name) if isinstance(after_sensitive, dict) else None, redact)
        if old == new and name in before:
            continue
        if old in (None, {}, []) and new in (None, {}, []):
            continue
        rows.append({"attribute": name, "before": old, "after": new})
    return rows


def summarize(
    plan: dict, redact: Callable[[str], str], *, section: str = "resource_changes", imported: set[str] = frozenset()
) -> list[dict]:
    """One entry per resource that changes: address, type, action and the attributes that change.

    `section="resource_drift"` reads what Terraform found changed outside it (a refresh-only plan). `imported`
    names the addresses an adoption took over just before this plan: each is shown as an import, with what the
    apply changes on it (Terraform 1.5+ marks such changes itself, `importing`, when import blocks are used).
    """
    entries = []
    for resource in plan.get(section) or []:
        change = resource.get("change", {})
        action = action_of(change.get("actions", []))
        taken_over = change.get("importing") or resource.get("address") in imported
        if taken_over and action in (ResourceAction.NO_OP, ResourceAction.UPDATE):
            # Taken over from outside Terraform (an import block), with whatever the apply then changes on it.
            action = ResourceAction.IMPORT
        if action in (ResourceAction.NO_OP, ResourceAction.READ):
            continue
        entries.append(
            {
                "address": resource.get("address", ""),
                "type": resource.get("type", ""),
                "name": resource.get("name", ""),
                "action": action,
                "changes": [] if action == ResourceAction.DELETE else _attribute_changes(change, redact),
            }
        )
    return entries


def action_counts(summary: list[dict]) -> dict[str, int]:
    counts = {action: 0 for action in (
        ResourceAction.CREATE, ResourceAction.UPDATE, ResourceAction.REPLACE, ResourceAction.DELETE, ResourceAction.IMPORT
    )}
    for entry in summary:
        counts[entry["action"]] = counts.get(entry["action"], 0) + 1
    return counts
