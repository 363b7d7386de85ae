"""A worker's run outlives its database connection: when the database drops it while Terraform runs (a restart,
a failover, pg_terminate_backend), the run's next query opens a new connection instead of failing the run."""
import psycopg
import pytest
from django.db import OperationalError, connection

from provisioning import runner
from provisioning.models import Run

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
