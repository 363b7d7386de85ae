"""Requests per second of the signed-in pages, each against a bare Django view on the same server.

A throwaway PostgreSQL database on the server DATABASE_URL names (`--database`, default bench_web_<pid>) is
migrated, loaded with the demo data (24 agencies, 18 clouds, one user per role) and filled with realistic
work: `--instances` instances spread over the agencies and offerings (bench.inventory_scale's fill), and for
the demo requester's agency extension requests submitted through the portal's own services (so they wait at
the agency approver's stage, with the grants, stages and notifications that brings) and drafts beside them.

Then gunicorn (`-w 2`, sync workers) serves the portal with production settings (PORTAL_ENV=production, DEBUG
off, persistent database connections, collected static files behind WhiteNoise, every secret set) on a port
of 127.0.0.1, behind no proxy: wrk (Debian's) sends the `X-Forwarded-Proto: https` a TLS-ending proxy would.
Each page is loaded by wrk with a session cookie of a realistic user, round after round, in an order that
turns each round, for `--seconds` each:

- bare: `/bench/bare/`, a view that returns two bytes (bench.web_urls, only served under bench.web_settings),
  and `/bench/bare-signed-in/`, the same behind login_required: the session and its user, the floor of every
  signed-in page;
- the anonymous sign-in page, for comparison;
- the catalogue (`/catalogue/`), the inventory (`/instances/`) and the request list (`/requests/`), as the
  demo requester; the approval inbox (`/approvals/`), as the demo agency approver.

It prints a table of requests per second (median over rounds, with min-max), the responses that were not 2xx
(they must be 0: a redirect to the sign-in page would count), and last each page's ratio to bare (target >= 0.5).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python -m bench.web [--rounds 3] [--seconds 5]

With `--baseline DIR` (another checkout of the portal that has bench/web_settings.py, e.g. `git worktree add
/tmp/before main`) a second gunicorn serves that tree on the same database beside this one, and every round
loads each page on both, so before and after are measured in the same run on the same load.

`make bench-web` runs it against the local server. The database is dropped at the end (`--keep` keeps it).
"""
from __future__ import annotations

import argparse
import io
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.inventory_scale import admin, fill, server_url
from bench.run_overhead import delete_queues

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 2

# (label, path, user): user None is anonymous, without a cookie.
PAGES = [
    ("bare view", "/bench/bare/", None),
    ("bare view, signed in", "/bench/bare-signed-in/", "requester"),
    ("sign-in page (anonymous)", "/login/", None),
    ("catalogue", "/catalogue/", "requester"),
    ("inventory list", "/instances/", "requester"),
    ("request list", "/requests/", "requester"),
    ("approval inbox", "/approvals/", "agency_approver"),
]
BARE, BARE_SIGNED_IN = PAGES[0][0], PAGES[1][0]
RATIO_PAGES = [label for label, _path, user in PAGES if user and label != BARE_SIGNED_IN]

# Counts the responses that are not 2xx in every thread (wrk's own "Non-2xx or 3xx" lets redirects pass) and
# prints one line the bench reads.
WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non2xx") end
  local e = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d non2xx=%d socket_errors=%d p50_us=%d\\n",
    summary.requests, summary.duration, bad, e.connect + e.read + e.write + e.timeout, latency:percentile(50)))
end
"""


def environment(var: Path, database_url: str) -> dict[str, str]:
    """The production-like environment gunicorn runs with (and the seeding, but for PORTAL_ENV)."""
    from cryptography.fernet import Fernet

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.web_settings",
        "PORTAL_ENV": "production",
        "DEBUG": "0",
        "PORTAL_VAR_DIR": str(var),
        "STATIC_ROOT": str(var / "static"),
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "60",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CREDENTIALS_KEY": Fernet.generate_key().decode(),
        "AUDIT_HMAC_KEY": secrets.token_urlsafe(48),
        "STATE_ACCESS_KEY_ID": "bench-state",
        "STATE_SECRET_ACCESS_KEY": "bench-state-secret",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        # The web processes share a Redis cache, as docs/scale-out.md has them: the nav's counts and the sessions.
        "CACHE_URL": os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/3"),
        # Production settings refuse the embedded broker. What the seeding sends (notifications) goes to queues
        # of the bench's own, deleted at the end; nothing is sent while the pages are loaded.
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/0",
        "RUN_QUEUE": f"bench-web-runs-{os.getpid()}",
        "NOTIFY_QUEUE": f"bench-web-notify-{os.getpid()}",
    }


def make_database(stack: ExitStack, url: str, name: str, keep: bool) -> str:
    from psycopg import sql

    with admin(url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    if not keep:
        def drop() -> None:
            from django.db import connections

            connections.close_all()
            with admin(url) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

        stack.callback(drop)
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def seed(env: dict[str, str], instances: int, drafts: int) -> dict[str, int]:
    """Migrate, load the demo data and fill the database, in this process under development settings (the
    demo data refuses production), with the same keys gunicorn gets so the sessions made here hold there."""
    os.environ.update({**env, "PORTAL_ENV": "development", "DJANGO_SETTINGS_MODULE": "portal.settings"})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    call_command("demo_data", verbosity=0, stdout=io.StringIO())
    fill(instances)
    counts = fill_requests(drafts)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"seeded {instances:,} instances, {counts['submitted']} requests awaiting approval and "
          f"{counts['drafts']} drafts in {time.perf_counter() - started:.0f} s", flush=True)
    return counts


def fill_requests(drafts: int) -> dict[str, int]:
    """The demo requester's agency's active instances get extension requests: all but `drafts` submitted (they
    go straight to the agency approver's open stage), the rest left as drafts."""
    from portal.errors import DomainError
    from portal.models import User
    from provisioning.choices import InstanceStatus, RequestKind
    from provisioning.models import Instance
    from provisioning.services.requests import request_create_day2, request_submit

    requester = User.objects.get(username="requester")
    mine = list(Instance.objects.filter(agency=requester.agency, status=InstanceStatus.ACTIVE).order_by("pk"))
    counts = {"submitted": 0, "drafts": 0}
    made = []
    for instance in mine:
        try:
            made.append(request_create_day2(actor=requester, instance=instance, kind=RequestKind.EXTEND, lease_months=12))
        except DomainError:
            continue  # fill's instances hold only a name: offerings priced by other parameters cannot estimate
    for n, request in enumerate(made):
        if n < len(made) - drafts:
            request_submit(actor=requester, request=request)
            counts["submitted"] += 1
        else:
            counts["drafts"] += 1
    return counts


def session_cookies(usernames: set[str]) -> dict[str, str]:
    """A signed-in session per user, made as a sign-in makes it (in the database gunicorn reads)."""
    from django.conf import settings
    from django.test import Client

    from portal.models import User

    cookies = {}
    for username in usernames:
        client = Client()
        client.force_login(User.objects.get(username=username))
        cookies[username] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return cookies


def free_port(pinned: int | None = None) -> int:
    """A free port of 127.0.0.1 (BENCH_WEB_PORT pins the first, and the baseline's is the next)."""
    if os.environ.get("BENCH_WEB_PORT"):
        return pinned or int(os.environ["BENCH_WEB_PORT"])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(stack: ExitStack, env: dict[str, str], port: int, log: Path, tree: Path = ROOT):
    """gunicorn serving the checkout `tree` (this one, or --baseline's) with `env`."""
    env = {**env, "STATIC_ROOT": str(log.parent / f"static-{port}")}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"], cwd=tree, env=env, check=True)
    # Django's checks under the production settings, as a deploy would run them.
    subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"], cwd=tree, env=env,
                   check=True, stdout=subprocess.DEVNULL)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "portal.wsgi:application", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}",
         "--access-logfile", "-", "--error-logfile", "-", "--log-level", "warning"],
        cwd=tree, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()

    stack.callback(stop)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn exited: see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    sys.exit("gunicorn did not start listening in 30 s")


def headers_for(user: str | None, cookies: dict[str, str]) -> list[str]:
    from django.conf import settings

    found = ["X-Forwarded-Proto: https"]
    if user:
        found.append(f"Cookie: {settings.SESSION_COOKIE_NAME}={cookies[user]}")
    return found


def check_pages(port: int, cookies: dict[str, str]) -> None:
    """Each page answers 200 for its user, and a signed-in page is really signed in (it shows the user's name)."""
    import urllib.request

    from portal.models import User

    for label, path, user in PAGES:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
        for header in headers_for(user, cookies):
            name, value = header.split(": ", 1)
            request.add_header(name, value)
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read().decode()
            if response.status != 200 or response.url.rstrip("/") != request.full_url.rstrip("/"):
                sys.exit(f"{label}: HTTP {response.status} at {response.url}")
        if user and User.objects.get(username=user).full_name not in body:
            sys.exit(f"{label}: the page does not show {user} signed in")


def wrk(port: int, path: str, headers: list[str], seconds: int, connections: int, script: Path) -> dict[str, int]:
    command = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s", "-s", str(script)]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run([*command, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"^BENCH (.*)$", output, re.MULTILINE)
    if not found:
        sys.exit(f"wrk printed no result for {path}:\n{output}")
    return {key: int(value) for key, value in (item.split("=") for item in found.group(1).split())}


def measure(servers: dict[str, int], cookies: dict[str, str], rounds: int, seconds: int, connections: int,
            script: Path):
    """Every page on every server, round after round; each round turns the order of the pages and of the servers."""
    results: dict[tuple[str, str], list[dict[str, int]]] = {
        (server, label): [] for server in servers for label, _path, _user in PAGES
    }
    for port in servers.values():  # warm-up: each worker's first requests (imports, connections, templates)
        for _label, path, user in PAGES:
            wrk(port, path, headers_for(user, cookies), 1, connections, script)
    names = list(servers)
    for round_ in range(rounds):
        shift = round_ % len(PAGES)
        order = names if round_ % 2 == 0 else names[::-1]
        for label, path, user in PAGES[shift:] + PAGES[:shift]:
            for server in order:
                results[server, label].append(
                    wrk(servers[server], path, headers_for(user, cookies), seconds, connections, script))
        print(f"round {round_ + 1}/{rounds} done", flush=True)
    return results


def rate(run: dict[str, int]) -> float:
    return run["requests"] / (run["duration_us"] / 1e6)


def report(results, servers: list[str]) -> int:
    print(f"\n{'page':28} {'user':16} {'server':9} {'req/s':>8} {'min–max':>15} {'p50 ms':>8} {'requests':>9} "
          f"{'non-2xx':>8} {'errors':>7}")
    users = {label: user for label, _path, user in PAGES}
    medians = {}
    bad = 0
    for label, _path, _user in PAGES:
        for server in servers:
            runs = results[server, label]
            rates = [rate(run) for run in runs]
            medians[server, label] = statistics.median(rates)
            non2xx = sum(run["non2xx"] for run in runs)
            errors = sum(run["socket_errors"] for run in runs)
            bad += non2xx + errors
            p50 = statistics.median(run["p50_us"] for run in runs) / 1000
            print(f"{label:28} {users[label] or 'anonymous':16} {server:9} {medians[server, label]:8.1f} "
                  f"{f'{min(rates):.1f}–{max(rates):.1f}':>15} {p50:8.1f} {sum(run['requests'] for run in runs):9,} "
                  f"{non2xx:8} {errors:7}")
    print(f"\nnon-2xx responses and socket errors, all pages: {bad}")
    for server in servers:
        for label in RATIO_PAGES:
            shown = f"{label} ÷ bare view" + (f" ({server})" if len(servers) > 1 else "")
            print(f"{shown}: {medians[server, label] / medians[server, BARE]:.3f}"
                  f"   (÷ bare view, signed in: {medians[server, label] / medians[server, BARE_SIGNED_IN]:.3f})")
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="wrk's duration per page per round")
    parser.add_argument("--connections", type=int, default=4, help="wrk's open connections (2 per worker)")
    parser.add_argument("--instances", type=int, default=12_000, help="instances over all 24 agencies")
    parser.add_argument("--drafts", type=int, default=40, help="of the requester's requests, left as drafts")
    parser.add_argument("--database", default=f"bench_web_{os.getpid()}", help="throwaway database to make")
    parser.add_argument("--keep", action="store_true", help="keep the database and the server's log")
    parser.add_argument("--baseline", type=Path, help="another checkout (with bench/web_settings.py) to serve beside "
                        "this one on the same database, measured in the same rounds: e.g. a git worktree of main")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk (make bench-web installs it)")
    url = server_url()
    with ExitStack() as stack:
        var = Path(tempfile.mkdtemp(prefix="bench-web-"))
        if not args.keep:
            stack.callback(shutil.rmtree, var, ignore_errors=True)
        env = environment(var, make_database(stack, url, args.database, args.keep))
        seed(env, args.instances, args.drafts)
        stack.callback(delete_queues)
        cookies = session_cookies({user for _label, _path, user in PAGES if user})
        from django.db import connections

        connections.close_all()
        servers = {"this": free_port()}
        if args.baseline:
            servers["baseline"] = free_port(servers["this"] + 1)
        for server, port in servers.items():
            start_gunicorn(stack, env, port, var / f"gunicorn-{server}.log",
                           args.baseline.resolve() if server == "baseline" else ROOT)
            check_pages(port, cookies)
        script = var / "count.lua"
        script.write_text(WRK_SCRIPT)
        print(f"gunicorn -w {WORKERS} on 127.0.0.1:{', '.join(map(str, servers.values()))}; wrk -c {args.connections}, "
              f"{args.rounds} rounds of {args.seconds:g} s per page", flush=True)
        results = measure(servers, cookies, args.rounds, args.seconds, args.connections, script)
        bad = report(results, list(servers))
        if args.keep:
            print(f"kept database {args.database} and {var}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
