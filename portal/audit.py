"""Where an audit event learns the source IP: the middleware puts the client address in a context variable.

Services take an explicit actor but never a request; the address reaches the trail through here.
"""
import contextvars

from django.utils.translation import gettext, gettext_noop

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
# Apps add theirs (provisioning.apps) under the exact action, or under "<prefix>.*" as a function of the rest.
_ACTION_LABELS: dict[str, object] = {}


def action_labels_register(labels: dict[str, object]) -> None:
    _ACTION_LABELS.update(labels)


ADMIN_VERBS = {"create": gettext_noop("新增%(thing)s"), "change": gettext_noop("修改%(thing)s"),
               "delete": gettext_noop("删除%(thing)s")}


def admin_change_labels(*models) -> dict:
    """Labels of what the admin records for each model (portal.admin.AuditedAdmin): "<model>.create", ".change"
    and ".delete", as "修改云" and so on; a model's other actions keep their own exact labels."""
    def label_for(model):
        def label(rest: str):
            verb = ADMIN_VERBS.get(rest)
            return gettext(verb) % {"thing": model._meta.verbose_name} if verb else None
        return label
    return {f"{model._meta.model_name}.*": label_for(model) for model in models}


def action_label(action: str) -> str:
    label = _ACTION_LABELS.get(action)
    if label is None:
        prefix, _dot, rest = action.partition(".")
        label = _ACTION_LABELS.get(f"{prefix}.*")
        if callable(label):
            label = label(rest)
    return str(label) if label else action
