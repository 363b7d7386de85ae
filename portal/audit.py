"""Where an audit event learns the source IP: the middleware puts the client address in a context variable.

Services take an explicit actor but never a request; the address reaches the trail through here.
"""
import contextvars

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

current_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("audit_source_ip", default=None)


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, which the reverse proxy in front sets (never a client header)."""
    return request.META.get("REMOTE_ADDR") or None


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = current_ip.set(client_ip(request))
        try:
            return self.get_response(request)
        finally:
            current_ip.reset(token)


# What an audit event's action means, in words, for pages; the action code itself stays the record.
# Apps add theirs (provisioning.apps) under the exact action, or under "<prefix>.*" as a function of the rest;
# such a function may list the rests it knows as `values`, so the audit page can offer each as a choice.
_ACTION_LABELS: dict[str, object] = {}
# What the admin's audited changes of a model are called ("<model>.create" and so on).
_MODEL_VERBS = {"create": _("新建{}"), "change": _("修改{}"), "delete": _("删除{}")}


def action_labels_register(labels: dict[str, object]) -> None:
    _ACTION_LABELS.update(labels)


def action_label(action: str) -> str:
    label = _ACTION_LABELS.get(action)
    if label is None:
        prefix, _dot, rest = action.partition(".")
        label = _ACTION_LABELS.get(f"{prefix}.*")
        if callable(label):
            label = label(rest)
    return str(label) if label else action


def model_actions(*models) -> dict[str, object]:
    """Labels for the admin's create, change and delete events of `models`, named after each model."""
    return {
        f"{model._meta.model_name}.{verb}": format_lazy(template, model._meta.verbose_name)
        for model in models
        for verb, template in _MODEL_VERBS.items()
    }


def action_choices() -> list[tuple[str, str]]:
    """Every action the registered labels know, as (code, label in the active language), sorted by label."""
    codes = {code for code in _ACTION_LABELS if not code.endswith(".*")}
    for code, label in _ACTION_LABELS.items():
        if code.endswith(".*"):
            codes |= {f"{code[:-2]}.{rest}" for rest in getattr(label, "values", ())}
    return sorted(((code, action_label(code)) for code in codes), key=lambda choice: (choice[1], choice[0]))


# Which choices class a detail's value comes from, by "<action prefix>.<key>" ("request.from": RequestStatus),
# so the audit page shows "已提交" where the event keeps "submitted".
_DETAIL_CHOICES: dict[str, object] = {}


def detail_choices_register(choices: dict[str, object]) -> None:
    _DETAIL_CHOICES.update(choices)


def detail_value_label(action: str, key: str, value) -> str | None:
    """A detail's value in words when its action's family names its choices; None otherwise."""
    choices = _DETAIL_CHOICES.get(f"{action.partition('.')[0]}.{key}")
    try:
        return str(choices(value).label) if choices is not None else None
    except (ValueError, TypeError):
        return None
