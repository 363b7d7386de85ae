"""Fixtures shared by every test folder: agencies and one user per role."""
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db.backends.signals import connection_created
from django.utils import translation

from portal.choices import Role
from tests.portal.factories import AgencyFactory, UserFactory


def _allow_the_test_flush(sender, connection, **kwargs):
    """Django empties a test database with TRUNCATE between transactional tests; on PostgreSQL the audit
    trigger lets the table's owner do that only in a session that asks (test_audit_tamper.py turns it off)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET portal.audit_allow_truncate = 'on'")


connection_created.connect(_allow_the_test_flush, dispatch_uid="tests.allow_the_test_flush")


@pytest.fixture(autouse=True)
def default_language():
    """Every test starts in Chinese. The locale middleware activates the language of each request and leaves it
    active in the thread, so a test that asked for an English page would otherwise hand English to the next
    test that calls a service directly (which of them met depended on how xdist shared the tests out)."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(scope="session")
def cloud_server():
    """One moto server (the local cloud) for the session; each test's clouds get accounts of their own on it."""
    from moto.server import ThreadedMotoServer  # late: moto is slow to import and most tests never need it

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def shell_counts_fresh(settings):
    """Pages show the nav's counts as they are now; tests/portal/test_shell_counts.py turns the cache on."""
    settings.SHELL_COUNTS_SECONDS = 0
    cache.clear()


@pytest.fixture(autouse=True)
def audit_checkpoints_off(settings):
    """No test reaches a checkpoint store unless it starts the local cloud (tests/portal/test_audit_tamper.py)."""
    settings.AUDIT_CHECKPOINT_BUCKET = ""
@pytest.fixture(autouse=True)
def fresh_cache():
    """Counters kept in the cache (denied attempts per actor and minute, API throttles) start at nothing in
    every test: user ids repeat from test to test, and one test's attempts must not count against another's."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def agency(db):
    return AgencyFactory(code="jyt", name="省教育厅")


@pytest.fixture
def other_agency(db):
    return AgencyFactory(code="tangshan", name="唐山市人民政府")


@pytest.fixture
def requester(agency):
    return UserFactory(username="requester", agency=agency, roles=[Role.REQUESTER])


@pytest.fixture
def other_requester(other_agency):
    return UserFactory(username="requester2", agency=other_agency, roles=[Role.REQUESTER])


@pytest.fixture
def agency_approver(agency):
    return UserFactory(username="agency_approver", agency=agency, roles=[Role.AGENCY_APPROVER])


@pytest.fixture
def nobody(agency):
    """A signed-in user of the agency with no role at all."""
    return UserFactory(username="nobody", agency=agency)


@pytest.fixture
def sysadmin(db):
    return UserFactory(username="sysadmin", roles=[Role.SYSTEM_ADMIN])


@pytest.fixture
def secadmin(db):
    return UserFactory(username="secadmin", roles=[Role.SECURITY_ADMIN])


@pytest.fixture
def auditor(db):
    return UserFactory(username="auditor", roles=[Role.AUDIT_ADMIN])


SESSION_STARTED = time.time()


def pytest_terminal_summary(terminalreporter, config):
    """The fault suite's counts (tests/e2e/test_faults.py writes them under the var dir; under xdist from the
    workers, so this end of the run reads them from there)."""
    reports = sorted((Path(settings.VAR_DIR) / "faults").glob("*.txt"))
    fresh = [path for path in reports if path.stat().st_mtime >= SESSION_STARTED]
    if fresh:
        terminalreporter.section("fault suite")
        for path in fresh:
            terminalreporter.write(path.read_text() + "\n")
