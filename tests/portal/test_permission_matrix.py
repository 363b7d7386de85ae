"""The permission matrix, from one table: every routed URL (the admin's included) × anonymous and one user of
each role × GET, with an object of the requester's own agency, so requester2 and agency_approver2 are the
other agency's staff. A URL the table does not cover fails the test; so does any answer other than the
table's. POST (and the API's writes) is walked too, outside the admin: whoever may not act changes nothing.

Reading the table: `page(ok)` is 200 for `ok`, a refusal (404: the object or page is not theirs to know of)
for the other users, and the sign-in redirect for anonymous; `api(ok)` the same with 401 for anonymous."""
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token

from catalogue.models import Cloud
from portal.demo import load_demo
from portal.models import User
from provisioning.choices import FindingKind
from provisioning.models import CloudFinding
from tests.api.test_schema_fuzz import _journeys
from tests.portal.permission_walk import ANONYMOUS, USERS, address, routes, walk

pytestmark = pytest.mark.django_db

R, A, R2, A2, CO, SR, FR, OP, SYS, SEC, AUD = USERS
EVERYONE = set(USERS)
STAFF = {SYS, SEC, AUD}
OWN_AGENCY = {R, A}
# Who reads a request of the requester's agency, its runs and run logs (besides its agency's staff).
REQUEST_READERS = OWN_AGENCY | {OP, AUD}
INSTANCE_READERS = REQUEST_READERS | {CO}
CATALOGUE_READERS = EVERYONE - {SEC, AUD}


def answers(ok=frozenset(), ok_status=200, refused=404, anonymous=302, **special) -> dict[str, int]:
    found = {user: ok_status if user in ok else refused for user in USERS}
    found[ANONYMOUS] = anonymous
    found.update(special)
    return found


def page(ok, **kwargs):
    return answers(ok, **kwargs)


def api(ok, **kwargs):
    return answers(ok, anonymous=401, **kwargs)


def always(status, anonymous=None):
    return answers(EVERYONE, ok_status=status, anonymous=status if anonymous is None else anonymous)


def admin(ok, refused=403):
    """An admin page: the admins it is for, 403 for the other admins, the admin's sign-in for everybody else."""
    return answers(ok, refused=refused, **{user: 302 for user in EVERYONE - STAFF})


ADMIN_MODELS = {
    # model: (who lists and opens it, who adds, who deletes)
    "portal_agency": ({SYS, SEC}, {SYS}, set()),
    "portal_user": ({SYS, SEC}, {SYS}, set()),
    "auth_group": ({SEC}, set(), set()),
    "portal_auditevent": ({AUD}, set(), set()),
    "portal_notificationchannel": (set(), set(), set()),
    "portal_notificationdelivery": (set(), set(), set()),
    "catalogue_cloud": ({SYS}, {SYS}, {SYS}),
    "catalogue_service": ({SYS}, {SYS}, {SYS}),
    "catalogue_offering": ({SYS}, {SYS}, {SYS}),
    "catalogue_moduleversion": ({SYS}, set(), set()),
    "provisioning_approvalpolicy": ({SEC}, {SEC}, {SEC}),
    "provisioning_quotalimit": ({SEC}, {SEC}, {SEC}),
    # Only the break-glass superuser: tokens, and django-axes' records (their history of an object that
    # is not there sends the admins back to the index).
    "authtoken_tokenproxy": (set(), set(), set()),
    "axes_accessattempt": (set(), set(), set()),
    "axes_accesslog": (set(), set(), set()),
    "axes_accessfailurelog": (set(), set(), set()),
}
# Models the walk names no object of (object id 0): their history sends even their readers back to the index.
NO_OBJECT = {
    "portal_notificationdelivery", "authtoken_tokenproxy", "axes_accessattempt", "axes_accesslog",
    "axes_accessfailurelog",
}


def admin_rows() -> dict[str, dict[str, int]]:
    rows = {
        "admin:index": admin(STAFF), "admin:login": answers(EVERYONE - STAFF, anonymous=200, refused=302),
        "admin:logout": admin(set(), refused=405), "admin:password_change": admin(STAFF),
        "admin:password_change_done": admin(STAFF), "admin:autocomplete": admin(set()),
        "admin:jsi18n": admin(STAFF), "admin:view_on_site": admin(set(), refused=404),
        "admin:app_list": admin({SYS}, refused=404), "admin:auth_user_password_change": admin({SYS}),
    }
    for model, (readers, adders, deleters) in ADMIN_MODELS.items():
        rows[f"admin:{model}_changelist"] = admin(readers)
        rows[f"admin:{model}_change"] = admin(readers)
        rows[f"admin:{model}_history"] = admin(readers, refused=302 if model in NO_OBJECT else 403)
        rows[f"admin:{model}_add"] = admin(adders)
        rows[f"admin:{model}_delete"] = admin(deleters)
    return rows


TABLE: dict[str, dict[str, int]] = {
    # The shell.
    "dashboard": page(EVERYONE),
    "favicon": always(302),
    "login": answers(anonymous=200, refused=302),
    "logout": always(405),
    "set_language": always(405),
    "swagger-ui": page(EVERYONE),
    "schema": api(EVERYONE),
    "api_not_found": always(404),
    # The security admin's roles, the audit admin's trail.
    "role_list": page({SEC}),
    "role_user": page({SEC}),
    "role_revoke": page(set(), refused=405),
    "audit_event_list": page({AUD}, refused=403),
    "audit_verify": page({AUD}, ok_status=405, refused=403),
    # The catalogue: everyone who requests, approves or runs things; the admins do not shop.
    "catalogue:index": page(EVERYONE),
    "catalogue:offering_detail": page(CATALOGUE_READERS),
    "provisioning:request_create": page(CATALOGUE_READERS, ok_status=302),  # GET goes back to the offering
    "provisioning:request_estimate": page({R, R2}, ok_status=405),  # a requester's POST (htmx)
    "cloud-list": api(EVERYONE), "service-list": api(EVERYONE), "offering-list": api(EVERYONE),
    "cloud-detail": api(CATALOGUE_READERS), "service-detail": api(EVERYONE), "offering-detail": api(CATALOGUE_READERS),
    # Requests, runs and resources: lists for everyone (each sees what is theirs), objects for their readers.
    "provisioning:request_list": page(EVERYONE),
    "provisioning:request_detail": page(REQUEST_READERS),
    "provisioning:request_live": page(REQUEST_READERS),
    "provisioning:request_action": always(405, anonymous=302),
    "provisioning:run_log": page(REQUEST_READERS),
    "provisioning:approval_inbox": page(EVERYONE),
    "provisioning:instance_list": page(EVERYONE),
    "provisioning:instance_detail": page(INSTANCE_READERS),
    "provisioning:instance_live": page(INSTANCE_READERS),
    # A day-2 change is the agency's requester's to ask for; who only reads the resource is told so (403).
    "provisioning:instance_change": page({R}, **{user: 403 for user in INSTANCE_READERS - {R}}),
    "provisioning:instance_bulk_decommission": always(405, anonymous=302),
    "provisioning:instance_drift_check": always(405, anonymous=302),
    "provisioning:instance_drift_action": always(405, anonymous=302),
    "request-list": api(EVERYONE), "request-detail": api(REQUEST_READERS), "request-runs": api(REQUEST_READERS),
    "approval-list": api(EVERYONE), "run-list": api(EVERYONE), "run-detail": api(REQUEST_READERS),
    "run-log": api(REQUEST_READERS), "instance-list": api(EVERYONE), "instance-detail": api(INSTANCE_READERS),
    **{name: always(405, anonymous=401) for name in (
        "request-approve", "request-cancel", "request-reject", "request-retry", "request-submit", "run-recheck",
        "run-reconcile", "instance-change", "instance-drift-check", "api_token_revoke",
    )},
    "api_token_obtain": always(405),
    # Reports and capacity.
    "provisioning:overview": page(EVERYONE),
    "provisioning:showback": page(EVERYONE),
    "api_showback": api(EVERYONE),
    "provisioning:capacity": page({CO, OP, SEC}, refused=403),
    # Operators' work.
    "provisioning:operations": page({OP}),
    "provisioning:run_reconcile": always(405, anonymous=302),
    "provisioning:run_recheck": always(405, anonymous=302),
    "provisioning:finding_adopt": page({OP}),
    # Everyone's own messages and channels.
    "provisioning:notification_list": page(EVERYONE),
    "provisioning:notification_mark_all_read": always(405, anonymous=302),
    "provisioning:notification_open": always(405, anonymous=302),
    "provisioning:notification_channels": page(EVERYONE),
    "provisioning:notification_channel_create": page(EVERYONE, ok_status=302),
    "provisioning:notification_channel_action": always(405, anonymous=302),
    "provisioning:approval_link": page(EVERYONE, ok_status=400),  # a token that is none
    **admin_rows(),
}

# Who may act with a POST (or the API's write) on each URL; everybody else is walked with an empty POST
# and must change nothing. Empty means nobody acts through it but what the walk sends changes nothing anyway.
ACTORS = {
    "logout": EVERYONE, "set_language": EVERYONE, "api_token_revoke": EVERYONE,
    "role_user": {SEC}, "role_revoke": {SEC}, "audit_verify": {AUD},
    "provisioning:request_create": {R, R2}, "request-list": {R, R2},
    "provisioning:request_action": {R, A, CO, SR, FR, OP},
    **{name: {R, A, CO, SR, FR, OP} for name in (
        "request-approve", "request-cancel", "request-reject", "request-retry", "request-submit",
    )},
    "provisioning:instance_change": {R}, "instance-change": {R},
    "provisioning:instance_bulk_decommission": {OP}, "provisioning:instance_drift_check": {OP},
    "provisioning:instance_drift_action": {OP}, "instance-drift-check": {OP},
    "provisioning:run_reconcile": {OP}, "provisioning:run_recheck": {OP}, "run-recheck": {OP},
    "run-reconcile": {OP}, "provisioning:finding_adopt": {OP},
    "provisioning:notification_mark_all_read": EVERYONE, "provisioning:notification_open": {R},
    "provisioning:notification_channel_create": EVERYONE, "provisioning:notification_channel_action": {R},
    "provisioning:notification_channels": EVERYONE,
}
# Written by any request and no state of the portal's: the session, the audit trail (a refusal is recorded),
# and django-axes' own records of sign-in attempts.
BOOKKEEPING = {"django_session", "portal_auditevent", "axes_accessattempt", "axes_accesslog", "axes_accessfailurelog"}
WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


@pytest.fixture
def estate(db):
    load_demo()
    _journeys()
    now = timezone.now()
    CloudFinding.objects.create(cloud=Cloud.objects.get(slug="edu"), kind=FindingKind.UNMANAGED,
                                resource_type="pcloud_bucket", object_id="made-by-hand", name="made-by-hand",
                                first_seen_at=now, last_seen_at=now)


def test_the_table_covers_every_routed_url():
    missing = sorted(name for _route, name in routes() if name not in TABLE)
    assert not missing, f"add these URLs to the permission matrix: {missing}"
    stale = sorted(set(TABLE) - {name for _route, name in routes()})
    assert not stale, f"the permission matrix names URLs that no longer exist: {stale}"


def test_every_url_answers_every_role_as_the_table_says(estate):
    observed = walk()
    wrong = [
        f"{name} as {user}: {status}, the table says {TABLE[name][user]}"
        for name, row in observed.items() for user, status in row.items() if status != TABLE[name][user]
    ]
    assert not wrong, "\n".join(wrong)


def _signed_in(username: str, url: str) -> tuple[Client, dict]:
    client = Client()
    headers = {}
    if username != ANONYMOUS:
        user = User.objects.get(username=username)
        if url.startswith("/api/v1/"):
            token, _ = Token.objects.get_or_create(user=user)
            headers["HTTP_AUTHORIZATION"] = f"Token {token.key}"
        else:
            client.force_login(user)
    return client, headers


def test_whoever_may_not_act_changes_nothing_with_a_post(estate):
    owner = User.objects.get(username=R)
    changed, sent = [], 0
    for route, name in routes():
        if name.startswith("admin:"):
            continue  # the admin's writes need its permissions, which the GET rows above hold; forms need data
        url = address(name, route, owner)
        for user in [ANONYMOUS, *sorted(EVERYONE - ACTORS.get(name, set()))]:
            client, headers = _signed_in(user, url)  # signing in writes last_login: before the count
            connection.queries_log.clear()
            with CaptureQueriesContext(connection) as queries:
                response = client.post(url, {}, **headers)
            sent += 1
            assert response.status_code < 500, (name, user, response.status_code)
            written = [q["sql"][:120] for q in queries.captured_queries
                       if (m := WRITE.match(q["sql"])) and m.group(1) not in BOOKKEEPING]
            if written and not (user == ANONYMOUS and name in ("api_token_obtain", "login", "admin:login")):
                changed.append(f"POST {url} as {user} ({response.status_code}) wrote {written}")
    assert sent > 400
    assert not changed, "\n".join(changed)
