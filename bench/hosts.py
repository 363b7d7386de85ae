"""Worker hosts on one machine: each a network namespace with an address of its own, running a Celery worker
from this checkout that shares nothing with the others but the database, the broker, the state store and the
cloud endpoints.

    root namespace                                    so1-w1 (10.231.1.11)     so1-w2 (10.231.1.12)
    PostgreSQL 127.0.0.1:5432  <- socat 10.231.1.1:8323 <-+
    Redis      127.0.0.1:6379  <- socat 10.231.1.1:8324 <-+-- bridge so1-br --- veth --- celery worker
    moto       127.0.0.1:N     <- socat 10.231.1.1:8325 <-+                   `-- veth --- celery worker

The services keep listening on loopback only: small TCP forwarders (Debian's socat) in the root namespace,
bound on the bridge's address, make them reachable from the hosts, and go when the network does. The cloud
endpoint (10.231.1.1:8325) is one address that the root namespace and every host reach alike, so what the
database stores as a cloud's endpoint works everywhere. Each worker gets its own host name (a UTS namespace),
so Run.worker says which host ran the run, its own PORTAL_VAR_DIR, TERRAFORM_HOME, provider mirror and TMPDIR.

Each user of this module has a site of its own (a number: its names, addresses and ports), so the test
(site 1) and bench/throughput.py (site 2) can run at the same time. Needs root (CAP_NET_ADMIN): `netns_refusal()`
says why not, for a skip.
"""
from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
PREFIX = 24
SERVICES = ("database", "broker", "cloud")
FIRST_PORT = 8320


class HostError(Exception):
    pass


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise HostError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def netns_refusal() -> str | None:
    """Why worker hosts cannot be made here (a skip reason), or None when they can."""
    for tool in ("ip", "socat", "unshare"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (make test installs iproute2, socat and util-linux)"
    if os.geteuid() != 0:
        return "creating network namespaces (ip netns add) needs root or CAP_NET_ADMIN"
    probe = f"so-probe-{os.getpid() % 100000}"
    result = _ip("netns", "add", probe, check=False)
    if result.returncode != 0:
        return f"ip netns add is not permitted here: {result.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


def stop_process(process: subprocess.Popen, timeout: float = 30) -> None:
    """Stop a process started in a session of its own, and everything it started."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        except ProcessLookupError:
            pass


def rehost(url: str, address: str, port: int) -> str:
    """`url` with its host and port replaced by the forwarder's (credentials, path and query kept)."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{address}:{port}" if userinfo else f"{address}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class Worker:
    host: str  # the host (namespace) name, also its host name
    address: str
    process: subprocess.Popen
    log_path: Path
    queues: list[str]

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Network:
    """The bridge, the forwarders and the hosts; `close()` removes all of it (also after a failure)."""

    workdir: Path
    site: int  # 1-6: names so<site>-…, addresses 10.231.<site>.0/24, ports 8320 + 3 × site + 0, 1, 2
    forwarders: list[subprocess.Popen] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    scratch: list[Path] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"so{self.site}"

    @property
    def bridge(self) -> str:
        return f"{self.prefix}-br"

    @property
    def address(self) -> str:
        """The root namespace's address on the bridge."""
        return f"10.231.{self.site}.1"

    def port(self, service: str) -> int:
        return FIRST_PORT + 3 * self.site + SERVICES.index(service)

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self, *, database: str, broker: str, cloud: str) -> dict[str, str]:
        """Make the bridge and forward the three services; returns their URLs as the hosts see them."""
        if not 1 <= self.site <= 6:
            raise HostError("the site must be 1 to 6 (ports 8323–8340 are not all ours beyond)")
        self.remove_leftovers()
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.address}/{PREFIX}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        targets = {"database": database, "broker": broker, "cloud": cloud}
        for service, url in targets.items():
            parts = urlsplit(url)
            target = f"{parts.hostname}:{parts.port or {'database': 5432, 'broker': 6379}.get(service, 80)}"
            self._forward(self.port(service), target)
            self.urls[service] = rehost(url, self.address, self.port(service))
        return self.urls

    def _forward(self, port: int, target: str) -> None:
        process = subprocess.Popen(
            ["socat", f"TCP-LISTEN:{port},bind={self.address},fork,reuseaddr,backlog=256", f"TCP:{target}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        self.forwarders.append(process)
        deadline = time.monotonic() + 10
        while subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout.strip() == "":
            if process.poll() is not None or time.monotonic() > deadline:
                raise HostError(f"the forwarder on {self.address}:{port} to {target} did not start")
            time.sleep(0.05)

    def add_host(self, index: int) -> tuple[str, str]:
        """A namespace so<site>-w<index> with 10.231.<site>.<10+index> on a veth pair to the bridge."""
        name, address = f"{self.prefix}-w{index}", f"10.231.{self.site}.{10 + index}"
        outside, inside = f"{name}-h", f"{name}-n"
        _ip("netns", "add", name)
        self.hosts.append(name)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", name)
        _ip("link", "set", outside, "master", self.bridge)
        _ip("link", "set", outside, "up")
        _ip("-n", name, "addr", "add", f"{address}/{PREFIX}", "dev", inside)
        _ip("-n", name, "link", "set", inside, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "route", "add", "default", "via", self.address)
        return name, address

    def in_host(self, host: str, command: list[str]) -> list[str]:
        """`command` run inside the host's namespace under the host's own host name."""
        script = f"hostname {shlex.quote(host)} && exec {shlex.join(command)}"
        return ["ip", "netns", "exec", host, "unshare", "--uts", "sh", "-c", script]

    def start_worker(
        self, index: int, *, env: dict[str, str], queues: list[str], concurrency: int, ready_timeout: float = 90
    ) -> Worker:
        """A host with a Celery worker on `queues`: its own var dir, Terraform home and provider mirror (built
        inside the host, from this checkout, before the worker starts). `env` carries the shared settings."""
        host, address = self.add_host(index)
        own = self.workdir / host
        scratch = Path(tempfile.mkdtemp(prefix=f"{host}-"))  # short: the provider's socket path lives below
        self.scratch.append(scratch)
        host_env = {
            **env,
            "DATABASE_URL": self.urls["database"],
            "CELERY_BROKER_URL": self.urls["broker"],
            "LOCAL_CLOUD_URL": self.urls["cloud"],
            "STATE_ENDPOINT": self.urls["cloud"],
            "STATE_DYNAMODB_ENDPOINT": self.urls["cloud"],
            "PORTAL_VAR_DIR": str(own / "var"),
            "TERRAFORM_HOME": str(own / "terraform"),
            "TERRAFORM_MIRROR_DIR": str(own / "terraform" / "mirror"),
            "TERRAFORM_CLI_CONFIG": str(own / "terraform" / "terraform.rc"),
            "TMPDIR": str(scratch),
            "PYTHONUNBUFFERED": "1",
        }
        host_env.pop("TERRAFORM_EXTRA_PROVIDER_DIRS", None)
        own.mkdir(parents=True, exist_ok=True)
        mirror = subprocess.run(
            self.in_host(host, [sys.executable, "manage.py", "terraform_mirror"]),
            cwd=ROOT, env=host_env, capture_output=True, text=True,
        )
        if mirror.returncode != 0:
            raise HostError(f"{host}: terraform_mirror failed:\n{mirror.stdout}{mirror.stderr}")
        log_path = own / "worker.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                self.in_host(host, [
                    sys.executable, "-m", "celery", "-A", "portal", "worker", "-l", "info", "--pool", "prefork",
                    "--concurrency", str(concurrency), "-Q", ",".join(queues), "-n", f"{host}@%h",
                    "--without-gossip", "--without-mingle", "--without-heartbeat",
                ]),
                cwd=ROOT, env=host_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        worker = Worker(host=host, address=address, process=process, log_path=log_path, queues=queues)
        self.workers.append(worker)
        deadline = time.monotonic() + ready_timeout
        while " ready." not in worker.output():
            if process.poll() is not None or time.monotonic() > deadline:
                raise HostError(f"{host}: the worker did not start:\n{worker.output()[-3000:]}")
            time.sleep(0.2)
        return worker

    def close(self) -> None:
        for worker in self.workers:
            stop_process(worker.process)
        for process in self.forwarders:
            stop_process(process, timeout=5)
        for host in self.hosts:
            _ip("netns", "del", host, check=False)  # takes the inner veth end, and so its peer, with it
        _ip("link", "del", self.bridge, check=False)
        for directory in self.scratch:
            shutil.rmtree(directory, ignore_errors=True)
        self.workers, self.forwarders, self.hosts, self.scratch = [], [], [], []


    def remove_leftovers(self) -> None:
        """The namespaces and links of this site that a killed run may have left."""
        for line in _ip("netns", "list", check=False).stdout.splitlines():
            name = line.split()[0] if line.split() else ""
            if name.startswith(f"{self.prefix}-w"):
                _ip("netns", "del", name, check=False)
        for line in _ip("-o", "link", "show", check=False).stdout.splitlines():
            name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
            if name == self.bridge or (name.startswith(f"{self.prefix}-w") and name.endswith("-h")):
                _ip("link", "del", name, check=False)
