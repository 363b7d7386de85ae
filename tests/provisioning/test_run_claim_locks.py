"""A claim locks its cloud's row against other claims only (the per-cloud cap), not against a new workspace of
that cloud: while one worker is inside run_claim, a submit on the same cloud still inserts its workspace (whose
foreign key takes a KEY SHARE lock on the cloud). Under FOR UPDATE it waited, and a submit that already held
the audit chain's lock deadlocked with the claim (seen with two worker hosts in bench/throughput).

PostgreSQL only: SQLite has no row locks."""
import threading

import pytest
from django.db import connection, transaction

from provisioning.choices import RunStatus
from provisioning.services import runs
from tests.provisioning.factories import RunFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def postgresql(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://…): SQLite has no row locks to wait on")


def test_a_claim_in_progress_does_not_block_a_new_workspace_of_its_cloud(postgresql, monkeypatch):
    run = RunFactory()
    inside, release = threading.Event(), threading.Event()
    real_move = runs.run_move

    def move_when_released(*args, **kwargs):
        inside.set()  # the claim holds its lock on the cloud's row now
        release.wait(30)
        return real_move(*args, **kwargs)

    monkeypatch.setattr(runs, "run_move", move_when_released)
    claimed = {}

    def claim():
        try:
            claimed["result"] = runs.run_claim(run_id=run.pk, worker="w1")
        finally:
            connection.close()

    worker = threading.Thread(target=claim)
    worker.start()
    try:
        assert inside.wait(30), "the claim never reached its move"
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '3s'")
            created = WorkspaceFactory(cloud=run.workspace.cloud, agency=run.workspace.agency)
    finally:
        release.set()
        worker.join(30)
    assert created.pk
    claimed_run, why = claimed["result"]
    assert claimed_run is not None, why
    assert claimed_run.status == RunStatus.RUNNING
