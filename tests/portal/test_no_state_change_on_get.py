"""No state change on GET: the URL resolver is walked, every routed view (the admin's aside) is sent GETs, and
nothing may be written. Views that only act (logout, approve, decommission, revoke, …) answer GET with 405.

The GETs hit real objects, in every state the demo journeys leave (the schema fuzz test's), as each role."""
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from catalogue.models import Cloud, Offering, Service
from portal.choices import Role
from portal.demo import load_demo
from portal.models import NotificationChannel, User
from provisioning.choices import RequestKind
from provisioning.models import CloudFinding, Instance, Notification, Request, Run
from provisioning.views import RequestActionView
from tests.api.test_schema_fuzz import _journeys

pytestmark = pytest.mark.django_db

ROLES = ["requester", "agency_approver", "cloud_owner", "operator", "sysadmin", "auditor"]
# Written by any request and no state of the portal's: the session (its last-activity time) and the audit
# trail (an answer that refused something may be recorded).
BOOKKEEPING = {"django_session", "portal_auditevent"}
# Rows made on first need that hold exactly what their absence meant: not a change of state. The account-email
# channel (provisioning.services.channels.email_channel) is one, made with every kind of message switched on.
LAZY_DEFAULTS = {("notification_channels", "portal_notificationchannel")}
WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)

# What each routed URL's arguments are taken from.
OBJECTS = {
    "pk": {
        "request_detail": Request, "request_live": Request, "request_action": Request,
        "run_log": Run, "run_reconcile": Run, "run_recheck": Run,
        "instance_detail": Instance, "instance_live": Instance, "instance_change": Instance,
        "instance_drift_check": Instance, "instance_drift_action": Instance,
        "offering_detail": Offering, "notification_open": Notification,
        "notification_channel_action": NotificationChannel,
        "request-detail": Request, "request-approve": Request, "request-cancel": Request, "request-reject": Request,
        "request-retry": Request, "request-runs": Request, "request-submit": Request,
        "run-detail": Run, "run-log": Run, "run-recheck": Run, "run-reconcile": Run,
        "instance-detail": Instance, "instance-change": Instance, "instance-drift-check": Instance,
        "offering-detail": Offering, "role_user": User, "role_revoke": User, "finding_adopt": CloudFinding,
    },
    "offering_pk": {"request_create": Offering, "request_estimate": Offering},
    "slug": {"cloud-detail": Cloud, "service-detail": Service},
}
WORDS = {
    "action": sorted(RequestActionView.ACTIONS) + ["adopt", "enable", "disable", "delete", "test"],
    "kind": [RequestKind.MODIFY, RequestKind.EXTEND, RequestKind.DECOMMISSION],
    "token": ["not-a-token"],
    "role": [Role.REQUESTER, Role.SECURITY_ADMIN],
}


def routes(patterns=None, prefix="", namespace=""):
    """(route, pattern, namespace) of every named URL, the admin's aside (Django's own: its GETs show forms)."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern) == "admin/":
                continue
            inner = ":".join(part for part in (namespace, pattern.namespace) if part)
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield prefix + str(pattern.pattern), pattern, namespace


def argument_names(route: str) -> list[str]:
    return [a or b for a, b in re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", route)]


def argument_values(name: str, argument: str) -> list:
    if argument in WORDS:
        return WORDS[argument]
    model = OBJECTS.get(argument, {}).get(name)
    assert model is not None, f"say in OBJECTS what the URL {name}'s <{argument}> is"
    field = "slug" if argument == "slug" else "pk"
    return list(model.objects.order_by(field).values_list(field, flat=True)[:12]) or ["1"]


def resolved_urls() -> list[tuple[URLPattern, list[str]]]:
    """Each routed URL with its arguments' sample values (one argument varied at a time, the others first)."""
    found = []
    for route, pattern, namespace in routes():
        if pattern.name == "api_not_found":
            continue  # any other URL under /api/v1/: a 404
        values = {argument: argument_values(pattern.name, argument) for argument in argument_names(route)}
        first = {argument: options[0] for argument, options in values.items()}
        kwargs_list = [first] + [{**first, a: v} for a, options in values.items() for v in options[1:]]
        name = f"{namespace}:{pattern.name}" if namespace else pattern.name
        found.append((pattern, sorted({reverse(name, kwargs=kwargs) for kwargs in kwargs_list})))
    return found


def allowed_methods(pattern: URLPattern) -> set[str]:
    view = pattern.callback
    actions = getattr(view, "actions", None)
    if actions:  # a DRF viewset route
        return set(actions)
    view_class = getattr(view, "view_class", None) or getattr(view, "cls", None)
    if view_class is None:
        return {"get"}  # a function view: sent GETs below like every other
    return {method for method in view_class.http_method_names if hasattr(view_class, method)} - {"options", "head"}


def writes(queries, name: str) -> list[str]:
    found = []
    for query in queries:
        match = WRITE.match(query["sql"])
        if match and match.group(1) not in BOOKKEEPING and (name, match.group(1)) not in LAZY_DEFAULTS:
            found.append(query["sql"][:160])
    return found


@pytest.fixture
def demo(db):
    load_demo()
    _journeys()


def test_no_get_changes_anything_for_any_role(demo):
    sent, failures = 0, []
    targets = resolved_urls()
    for username in ROLES:
        client = Client()
        client.force_login(User.objects.get(username=username))
        for pattern, addresses in targets:
            for url in addresses:
                connection.queries_log.clear()  # the log keeps 9,000 queries; a full one would capture none
                with CaptureQueriesContext(connection) as queries:
                    response = client.get(url)
                sent += 1
                assert response.status_code < 500, (username, url, response.status_code)
                if found := writes(queries.captured_queries, pattern.name):
                    failures.append(f"GET {url} as {username} ({response.status_code}) wrote: {found}")
    assert sent > 200  # the walk reached the routes and their objects
    assert not failures, "\n".join(failures)


ALWAYS_405 = {"logout", "set_language", "api_token_revoke", "instance_bulk_decommission", "notification_mark_all_read"}


def test_views_that_only_act_refuse_get(demo):
    client = Client()
    client.force_login(User.objects.get(username="operator"))
    acting = [(pattern, addresses) for pattern, addresses in resolved_urls() if "get" not in allowed_methods(pattern)]
    names = {pattern.name for pattern, _addresses in acting}
    # The walk found the known action views, the logout and the token revocation among them.
    assert {"logout", "instance_bulk_decommission", "instance_drift_check", "run_recheck", "notification_open",
            "api_token_revoke", "request-approve", "request-submit", "run-reconcile"} <= names
    for pattern, addresses in acting:
        for url in addresses:
            # 404 where the view looks its object up before the method (not the operator's to see): no action.
            expected = {405} if pattern.name in ALWAYS_405 else {403, 404, 405}
            assert client.get(url).status_code in expected, url


def test_request_actions_other_than_the_cancel_confirmation_refuse_get(demo):
    client = Client()
    client.force_login(User.objects.get(username="agency_approver"))
    request = Request.objects.first()
    for action in RequestActionView.ACTIONS - {"cancel"}:
        assert client.get(reverse("provisioning:request_action", args=[request.pk, action])).status_code == 405
