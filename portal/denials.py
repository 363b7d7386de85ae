"""Denied attempts in the audit trail: a 403, a 404 on an object the user may not see (the portal answers 404
rather than reveal it exists), and a service's refusal (an approval the actor may not sign, say).

They are written by DeniedAuditMiddleware after the response is made, outside any transaction of the view or
the service: those roll back on a refusal (ATOMIC_REQUESTS, a service's @transaction.atomic, DRF's rollback),
and the attempt must stay in the trail all the same. Outside a request (a task, the shell) a refusal is written
at once. At most AUDIT_DENIED_PER_MINUTE denials per actor (user, or address when signed out) are written a
minute, counted in the Django cache, so a script cannot flood the table; the next one written says how many
were left out in between (details.suppressed).
"""
import contextvars
import functools
import time

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import transaction

from .audit import current_ip
from .choices import AuditOutcome
from .errors import DomainError
from .services import audit_record

# The denials noted while the current request is served, written once its response is made (None: no request).
pending: contextvars.ContextVar[list | None] = contextvars.ContextVar("audit_denials_pending", default=None)

# Which model a URL's `pk` names, by the start of the URL's name ("provisioning:request_", "request-"); apps
# register theirs, so that a denied attempt names the object it was after.
_DENIED_OBJECTS: dict[str, str] = {}

# Refusals a service audits: not a form's bad input (that is the user's to correct, not an attempt).
REFUSAL_CODES = {"permission_denied", "conflict"}
# Resolved URLs whose 404 is "no such address", not a refused object.
NOT_OBJECTS = {"api_not_found"}


def denied_objects_register(routes: dict[str, str]) -> None:
    _DENIED_OBJECTS.update(routes)


def current_minute() -> int:
    return int(time.time() // 60)


def denial_record(*, actor, action: str, obj=None, details: dict) -> object | None:
    """Write one denied attempt now, unless the actor is over the minute's limit (then it is only counted)."""
    who = f"user:{actor.pk}" if actor is not None and actor.pk else f"ip:{current_ip.get() or '-'}"
    limit = settings.AUDIT_DENIED_PER_MINUTE
    suppressed_key = f"audit-denied-suppressed:{who}"
    if limit:
        minute_key = f"audit-denied:{who}:{current_minute()}"
        cache.add(minute_key, 0, timeout=120)
        try:
            count = cache.incr(minute_key)
        except ValueError:  # the key expired between add and incr
            cache.set(minute_key, 1, timeout=120)
            count = 1
        if count > limit:
            if not cache.add(suppressed_key, 1, timeout=86_400):
                cache.incr(suppressed_key)
            return None
    suppressed = cache.get(suppressed_key) or 0
    if suppressed:
        cache.decr(suppressed_key, suppressed)  # not delete: keeps what a concurrent request counts meanwhile
        details = {**details, "suppressed": suppressed}
    signed_in = actor is not None and actor.pk
    with transaction.atomic():
        return audit_record(
            actor=actor if signed_in else None, action=action, obj=obj, outcome=AuditOutcome.DENIED, details=details,
            # Without an object the event belongs to the actor's agency, so the agency filter finds it.
            agency=getattr(actor, "agency", None) if signed_in and obj is None else None,
        )


def denial_note(*, actor, action: str, obj=None, details: dict) -> None:
    """A refusal: written after the response when a request is being served, at once otherwise."""
    notes = pending.get()
    if notes is None:
        denial_record(actor=actor, action=action, obj=obj, details=details)
    else:
        notes.append({"actor": actor, "action": action, "obj": obj, "details": details})


def refusals_audited(action: str, *, subject: str, keep: tuple[str, ...] = ()):
    """Audit a service's refusals (DomainError with a REFUSAL_CODES code) as `action` on its `subject` keyword
    argument, with the keyword arguments named in `keep` (a comment, say). Put it above @transaction.atomic."""

    def decorate(service):
        @functools.wraps(service)
        def audited(*args, **kwargs):
            try:
                return service(*args, **kwargs)
            except DomainError as exc:
                if exc.code in REFUSAL_CODES:
                    details = {"service": service.__name__, "code": exc.code, "reason": exc.message}
                    details.update({name: str(kwargs[name])[:500] for name in keep if kwargs.get(name)})
                    denial_note(actor=kwargs.get("actor"), action=action, obj=kwargs.get(subject), details=details)
                raise

        return audited

    return decorate


def denied_object(match):
    """The object a denied URL named, when its URL's name says which model and the object exists."""
    pk = match.kwargs.get("pk")
    label = next((label for prefix, label in _DENIED_OBJECTS.items() if match.view_name.startswith(prefix)), None)
    if pk is None or label is None:
        return None
    try:
        return apps.get_model(label).objects.filter(pk=pk).first()
    except (ValueError, TypeError):
        return None


class DeniedAuditMiddleware:
    """Writes the request's denied attempts once its response is made (see the module's docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = pending.set([])
        try:
            response = self.get_response(request)
            self.record(request, response, pending.get())
            return response
        finally:
            pending.reset(token)

    def process_exception(self, request, exception):
        if isinstance(exception, PermissionDenied) and exception.args:
            request.audit_denied_reason = str(exception)[:500]  # the refusal's own words, for the trail

    def record(self, request, response, notes: list) -> None:
        where = {"path": request.path[:500], "method": request.method}
        user = getattr(request, "user", None)
        user = user if user is not None and user.is_authenticated else None
        for note in notes:
            denial_record(actor=note["actor"] or user, action=note["action"], obj=note["obj"],
                          details={**where, **note["details"]})
        match = request.resolver_match
        if notes or response.status_code not in (403, 404) or match is None or match.url_name in NOT_OBJECTS:
            return
        details = {**where, "status": response.status_code, "view": match.view_name}
        if match.kwargs:
            details["arguments"] = {name: str(value)[:100] for name, value in match.kwargs.items()}
        reason = getattr(request, "audit_denied_reason", "")
        if not reason and isinstance(getattr(response, "data", None), dict):  # the API's answer says why
            reason = str(response.data.get("detail", ""))[:500]
        if reason:
            details["reason"] = reason
        denial_record(actor=user, action="access.denied", obj=denied_object(match), details=details)
