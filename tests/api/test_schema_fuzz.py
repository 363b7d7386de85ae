"""The API against its own OpenAPI schema: schemathesis generates requests from /api/schema/ (valid ones, and
invalid ones: strings for ids, bodies that break the schema) and sends them to the Django app over WSGI, as
the requester, the agency approver, the operator and the auditor of the demo data, with requests, runs and an
instance in every state present so the ids it tries exist. Each answer must be no server error and must match
what the schema says for that operation: a documented status, content type, headers and body.

The examples are bounded and derandomized, so a run is the same every time and takes about a minute or two.
Nothing reaches a Celery broker: everything runs inside one transaction that is rolled back, so no on_commit
wake-up fires, and apply_async is patched besides (as tests/provisioning's conftest does)."""
from collections import Counter
from unittest import mock

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from catalogue.models import Offering
from portal.demo import load_demo
from portal.models import User
from portal.wsgi import application
from provisioning.choices import RequestKind, RequestStatus, RunStatus
from provisioning.models import Instance, Request, Run
from provisioning.outcomes import run_lost as run_recover_lost
from provisioning.services import requests as request_services
from provisioning.services.runs import run_claim
from tests.provisioning.conftest import VM, finish_run

ROLES = ["requester", "agency_approver", "operator", "auditor"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 8
# What was sent, per role: operations exercised and examples sent (printed at the end of the module).
SENT: dict[str, Counter] = {}


@pytest.fixture(scope="module", autouse=True)
def no_broker():
    with mock.patch("provisioning.tasks.run_execute.apply_async") as runs, mock.patch(
        "provisioning.tasks.notification_send.apply_async"
    ) as mails:
        yield {"runs": runs, "mails": mails}
    assert not runs.called and not mails.called


def _approve_all(request):
    for username in ("agency_approver", "cloud_owner"):
        request_services.request_approve(actor=User.objects.get(username=username), request=request)
        request.refresh_from_db()
    return request


def _journeys():
    """Requests in every state the API can show: draft, planning, awaiting approval, failed, completed with an
    instance, an extend of that instance (which has no plan), and an apply whose worker was lost."""
    requester = User.objects.get(username="requester")
    offering = Offering.objects.get(cloud__slug="edu", service__slug="vm")

    def create(**overrides):
        values = {"actor": requester, "offering": offering, "parameters": dict(VM), "justification": "教学平台"}
        return request_services.request_create(**{**values, **overrides})

    def submitted():
        return request_services.request_submit(actor=requester, request=create())

    def awaiting():
        request = submitted()
        finish_run(request.plan_run)
        request.refresh_from_db()
        return request

    create(title="草稿")
    submitted()
    awaiting()
    failed = submitted()
    finish_run(failed.plan_run, RunStatus.FAILED, error="Error: invalid zone")
    completed = _approve_all(awaiting())
    finish_run(completed.apply_run, state_serial_after=1)
    completed.refresh_from_db()
    assert completed.status == RequestStatus.COMPLETED
    extend = request_services.request_create_day2(
        actor=requester, instance=completed.instance, kind=RequestKind.EXTEND, lease_months=6
    )
    request_services.request_submit(actor=requester, request=extend)
    lost = _approve_all(awaiting())
    claimed, why = run_claim(run_id=lost.apply_run_id, worker="lost-worker")
    assert claimed is not None, why
    run_recover_lost(claimed)


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, no_broker):
    """The demo catalogue and users with the journeys above, in one transaction rolled back at the end."""
    with django_db_blocker.unblock(), transaction.atomic():
        load_demo()
        _journeys()
        yield {
            "tokens": {role: Token.objects.get_or_create(user=User.objects.get(username=role))[0].key for role in ROLES},
            "ids": {
                "requests": list(Request.objects.values_list("pk", flat=True)),
                "runs": list(Run.objects.values_list("pk", flat=True)),
                "instances": list(Instance.objects.values_list("pk", flat=True)),
                "offerings": list(Offering.objects.filter(cloud__slug="edu").values_list("pk", flat=True)),
                "clouds": ["edu", "gov", "olympic"],
                "services": ["vm", "bucket"],
            },
        }
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def wsgi_app():
    """The real WSGI app. As Django's test client does, keep it from closing the test database's connection at
    the end of each request (that would drop the transaction holding the data)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def api_schema(demo, wsgi_app):
    return schemathesis.openapi.from_wsgi(
        "/api/schema/", wsgi_app, headers={"Authorization": f"Token {demo['tokens']['operator']}"}
    )


@pytest.fixture(scope="module", autouse=True)
def report():
    """Print what was sent; forget the sign-in throttle's counts, which would refuse later tests' sign-ins."""
    cache.clear()
    yield
    cache.clear()
    for role, sent in SENT.items():
        print(f"\nschemathesis as {role}: {len(sent)} operations, {sum(sent.values())} examples")


def known_ids(demo_objects: dict, operation) -> list:
    """Ids of the demo objects the operation's path is about, so the examples also hit objects that exist."""
    for prefix, ids in demo_objects.items():
        if operation.path.startswith(f"/api/v1/{prefix}/{{"):
            return ids
    return []


def fuzz(operation, mode, role: str, token: str, failures: Counter, ids: list) -> None:
    """Send the operation's bounded, derandomized examples in one generation mode; collect what failed."""

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy(generation_mode=mode), known=st.sampled_from([None, *ids]))
    def send(case, known):
        if known is not None and mode is schemathesis.GenerationMode.POSITIVE and case.path_parameters:
            name = next(iter(case.path_parameters))
            case.path_parameters[name] = known
        SENT.setdefault(role, Counter())[operation.label] += 1
        try:
            case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                detail = " ".join(failure.message.split())[:240]
                failures[f"{mode.value} {operation.label}: {failure.title}: {detail}"] += 1
        finally:
            # The revoke endpoint revokes the very token the examples are sent with: give it back, so the
            # operations after it are still tried signed in (not all answered 401).
            if operation.path == "/api/v1/auth/token/revoke/":
                Token.objects.get_or_create(key=token, defaults={"user": User.objects.get(username=role)})

    try:
        send()
    except Unsatisfiable:  # nothing of the operation can be made invalid (a list without parameters, say)
        assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_api_matches_its_schema(role, api_schema, demo):
    failures: Counter = Counter()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation in operations:
        for mode in schemathesis.GenerationMode:
            fuzz(operation, mode, role, demo["tokens"][role], failures, known_ids(demo["ids"], operation))
    # Every operation was sent examples (a schema that failed to load would otherwise pass with nothing sent).
    assert len(operations) >= 25 and set(SENT[role]) == {operation.label for operation in operations}
    assert not failures, f"{len(failures)} distinct failures as {role}:\n" + "\n".join(
        f"{count:3d}x {failure}" for failure, count in sorted(failures.items())
    )
