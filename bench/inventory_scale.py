"""Whether the inventory stays as fast at 100,000 instances as at 1,000, on PostgreSQL.

Two throwaway databases on the server DATABASE_URL names (a PostgreSQL URL is required: the question is how
PostgreSQL plans these queries), both made from one migrated database with the demo data (24 agencies, 18
clouds, the demo users), then filled with 1,000 and with 100,000 instances spread evenly over the agencies and
offerings. Then, side by side in one process, alternating the two databases round by round (and which goes
first), each page is requested through Django's test client as an operator and as the demo requester (one
agency of 24):

- the inventory page `/instances/` and its API `/api/v1/instances/` (first page, and a filtered page);
- the CSV export of the whole list, whose time grows with its rows by nature: it is reported as rows per
  second and by the memory it took (tracemalloc's peak while streaming), which must not grow with the rows.

It prints, per page and user, the SQL queries per request at each size (they must be equal), the median time
at each size and their ratio, and last the worst ratio of pages and API (target <= 1.5).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python -m bench.inventory_scale [--repeat 15]

`make bench-inventory` runs it against the local server. The databases are dropped at the end (`--keep`
keeps them).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_SCHEMES = ("postgres://", "postgresql://", "pgsql://")
SIZES = (1_000, 100_000)
BATCH = 5_000


def server_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(POSTGRES_SCHEMES):
        sys.exit("bench.inventory_scale measures PostgreSQL: set DATABASE_URL=postgres://… (any database on the server)")
    return urlunsplit(urlsplit(url)._replace(scheme="postgresql"))


def admin(url: str):
    import psycopg

    parts = urlsplit(url)
    try:
        return psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True)
    except psycopg.OperationalError:
        return psycopg.connect(url, autocommit=True)


def make_databases(stack: ExitStack, url: str, keep: bool) -> dict[int, str]:
    """Database names per size: the first is migrated and loaded here, the others are copies of it."""
    from psycopg import sql

    names = {size: f"bench_inventory_{size}_{os.getpid()}" for size in SIZES}
    with admin(url) as conn:
        for name in names.values():
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    if not keep:
        def drop() -> None:
            from django.db import connections

            connections.close_all()
            with admin(url) as conn:
                for name in names.values():
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

        stack.callback(drop)
    return names


def configure(stack: ExitStack, url: str, first: str) -> None:
    root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-inventory-")))
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_ENV": "development",
        "PORTAL_VAR_DIR": str(root / "var"),
        "DATABASE_URL": urlunsplit(urlsplit(url)._replace(path=f"/{first}")),
        "DEBUG": "0",
    })
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def use(database: str) -> None:
    """Point the default connection at `database` (closing the one open on the other)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connections

    connection = connections["default"]
    connection.close()
    connection.settings_dict["NAME"] = database
    ContentType.objects.clear_cache()


def build(names: dict[int, str], url: str) -> None:
    from django.core.management import call_command
    from django.db import connections
    from psycopg import sql

    first = names[SIZES[0]]
    with admin(url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(first)))
    use(first)
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    call_command("demo_data", verbosity=0)
    connections.close_all()
    with admin(url) as conn:
        for size in SIZES[1:]:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(names[size]), sql.Identifier(first)))
    for size in SIZES:
        use(names[size])
        fill(size)
    print(f"built {', '.join(f'{size:,}' for size in SIZES)} instances in {time.perf_counter() - started:.0f} s",
          flush=True)


def fill(count: int) -> None:
    """`count` instances (each with its workspace) spread evenly over agencies and offerings; then ANALYZE."""
    from datetime import date, timedelta

    from django.db import connection

    from catalogue.models import Offering
    from portal.models import Agency
    from provisioning.choices import DriftStatus, InstanceStatus
    from provisioning.models import Instance, Workspace

    agencies = list(Agency.objects.order_by("pk"))
    offerings = list(Offering.objects.select_related("cloud", "module").order_by("pk"))
    statuses = [InstanceStatus.ACTIVE] * 8 + [InstanceStatus.DESTROYED, InstanceStatus.CHANGING]
    drifts = [DriftStatus.IN_SYNC] * 6 + [DriftStatus.UNKNOWN] * 3 + [DriftStatus.DRIFTED]
    today = date.today()
    for start in range(0, count, BATCH):
        workspaces, instances = [], []
        for n in range(start, min(start + BATCH, count)):
            agency, offering = agencies[n % len(agencies)], offerings[(n // len(agencies)) % len(offerings)]
            workspace = Workspace(cloud=offering.cloud, module=offering.module, agency=agency, variables={"name": f"r{n}"})
            workspaces.append(workspace)
            instances.append(Instance(
                name=f"资源-{n:06d}", agency=agency, offering=offering, workspace=workspace,
                status=statuses[n % len(statuses)], data_classification=1 + n % 3,
                monthly_cost=Decimal(50 + n % 900), lease_end=today + timedelta(days=n % 700),
                drift_status=drifts[n % len(drifts)], parameters={"name": f"r{n}"},
            ))
        Workspace.objects.bulk_create(workspaces)
        Instance.objects.bulk_create(instances)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# Timing ----------------------------------------------------------------------------------------------------


PAGES = [
    ("inventory page", "/instances/"),
    ("inventory page, filtered", "/instances/?tier=industry&status=active&sort=-monthly_cost"),
    ("inventory API", "/api/v1/instances/"),
    ("inventory API, filtered", "/api/v1/instances/?tier=industry&status=active&ordering=-monthly_cost"),
]
CSV = ("CSV export", "/instances/?export=csv")


def clients(names: dict[int, str]) -> dict[tuple[int, str], object]:
    """A signed-in page client and API client per size and user (sessions and tokens live in each database)."""
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from portal.models import User

    made = {}
    for size in SIZES:
        use(names[size])
        for username in ("operator", "requester"):
            user = User.objects.get(username=username)
            page = Client(HTTP_HOST="127.0.0.1")
            page.force_login(user)
            token, _ = Token.objects.get_or_create(user=user)
            made[size, username] = (page, Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token.key}"))
    return made


def request(client_pair, url: str):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    page, api = client_pair
    client = api if url.startswith("/api/") else page
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(url)
        if response.streaming:
            rows = sum(chunk.count(b"\n") for chunk in response.streaming_content) - 1
        else:
            rows = None
        elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code}")
    return elapsed, len(queries), rows


def measure(names, made, repeat: int):
    results: dict[tuple[str, str, int], list[float]] = {}
    queries: dict[tuple[str, str, int], set[int]] = {}
    for round_ in range(repeat):
        order = SIZES if round_ % 2 == 0 else tuple(reversed(SIZES))
        for size in order:
            use(names[size])
            for username in ("operator", "requester"):
                request(made[size, username], PAGES[0][1])  # the new connection's first query, untimed
                for label, url in PAGES:
                    elapsed, count, _rows = request(made[size, username], url)
                    results.setdefault((label, username, size), []).append(elapsed)
                    queries.setdefault((label, username, size), set()).add(count)
    return results, queries


def measure_csv(names, made):
    """Rows per second and the memory peak of streaming the whole inventory, at each size, as the operator."""
    found = {}
    for size in SIZES:
        use(names[size])
        request(made[size, "operator"], PAGES[0][1])
        elapsed, _count, rows = request(made[size, "operator"], CSV[1])
        # Again under tracemalloc, which slows Python down several times: for the memory only.
        tracemalloc.start()
        request(made[size, "operator"], CSV[1])
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        found[size] = (rows, elapsed, peak)
    return found


def report(results, queries, csv_found) -> float:
    small, large = SIZES
    print(f"\n{'page':28} {'user':10} {'queries':>9} {f'{small:,} (ms)':>12} {f'{large:,} (ms)':>14} {'ratio':>7}")
    worst = 0.0
    same_queries = True
    for label, _url in PAGES:
        for username in ("operator", "requester"):
            q_small, q_large = queries[label, username, small], queries[label, username, large]
            same_queries &= q_small == q_large and len(q_small) == 1
            t_small = statistics.median(results[label, username, small])
            t_large = statistics.median(results[label, username, large])
            ratio = t_large / t_small
            worst = max(worst, ratio)
            shown = f"{min(q_small)}/{min(q_large)}" + ("" if q_small == q_large else " (!)")
            print(f"{label:28} {username:10} {shown:>9} {t_small * 1000:12.1f} {t_large * 1000:14.1f} {ratio:7.2f}")
    print()
    for size, (rows, elapsed, peak) in csv_found.items():
        print(f"CSV export at {size:>7,}: {rows:>7,} rows in {elapsed:6.2f} s ({rows / elapsed:8,.0f} rows/s), "
              f"memory peak {peak / 2**20:6.1f} MiB")
    memory_ratio = csv_found[large][2] / csv_found[small][2]
    print(f"CSV memory peak {large:,} ÷ {small:,}: {memory_ratio:.2f}")
    print(f"SQL queries per request identical at both sizes: {'yes' if same_queries else 'NO'}")
    print(f"worst page/API time ratio {large:,} ÷ {small:,}: {worst:.2f}")
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the two databases")
    args = parser.parse_args()
    url = server_url()
    with ExitStack() as stack:
        names = make_databases(stack, url, args.keep)
        configure(stack, url, names[SIZES[0]])
        build(names, url)
        made = clients(names)
        results, queries = measure(names, made, args.repeat)
        csv_found = measure_csv(names, made)
        report(results, queries, csv_found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
