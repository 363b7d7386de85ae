"""A worker's run outlives its database connection: when the database drops it while Terraform runs (a restart,
a failover, pg_terminate_backend), the run's next query opens a new connection instead of failing the run."""
import psycopg
import pytest
from django.db import OperationalError, connection

from provisioning import runner
from provisioning.choices import RunStatus
from provisioning.models import Run
from provisioning.services.runs import run_claim
from tests.provisioning.factories import RunFactory

pytestmark = pytest.mark.django_db(transaction=True)


def drop_this_connection() -> None:
    """What the database does to a connection an administrator terminates, from a connection of its own."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    settings = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in settings.items() if k != "cursor_factory"}, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    yield
    runner._reconnect()  # the test database's flush needs a live connection


def test_a_dropped_connection_fails_the_next_query_unless_it_is_replaced(postgresql):
    drop_this_connection()
    with pytest.raises(OperationalError):
        Run.objects.count()


def test_the_run_replaces_a_dropped_connection_before_it_queries_again(postgresql):
    drop_this_connection()
    runner._usable_connection()
    assert Run.objects.count() == 0


def test_an_outcome_whose_connection_drops_midway_is_recorded_on_a_new_one(postgresql, monkeypatch):
    claimed, why = run_claim(run_id=RunFactory().pk, worker="w1")
    assert claimed is not None, why
    real, calls = runner.run_conclude, []

    def dropped_the_first_time(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 1:
            drop_this_connection()  # the database goes away as the outcome's transaction starts
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "run_conclude", dropped_the_first_time)
    finished = runner._finish(claimed, RunStatus.FAILED, "w1", state=(None, ""), error="terraform said no")
    assert calls == [RunStatus.FAILED, RunStatus.FAILED]
    assert finished.status == RunStatus.FAILED
    assert Run.objects.get(pk=claimed.pk).error == "terraform said no"
