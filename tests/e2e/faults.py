"""What the fault suite (test_faults.py) breaks things with: a Redis server of its own that it can restart, a
relay in front of the local cloud that it can take down, a look at which Terraform command a worker runs, and
the counts it prints."""
import os
import select
import signal
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from celery import current_app
from kombu import pools
from kombu.utils.collections import eqhash


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_port(port: int, *, up: bool, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.1)
    raise RuntimeError(f"port {port} not {'up' if up else 'down'} after {timeout}s")


class RedisServer:
    """Debian's redis-server on a port of its own, its queue kept in an append-only file synced on every write,
    as a production broker keeps it, so a restart brings back the messages it held."""

    def __init__(self, directory: Path, port: int):
        self.directory = directory
        self.port = port
        self.process: subprocess.Popen | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
             "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_port(self.port, up=True)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        wait_port(self.port, up=False)

    def restart(self, down_seconds: float) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()
        self.restarts += 1


@contextmanager
def publishing_to(broker_url: str):
    """Send this process's wake-up messages to `broker_url`. The Celery app's connection and producer pools are
    kombu's, kept per broker URL for the whole process: the usual broker's are left open for the tests that
    follow, and this broker's are closed and forgotten at the end (its port may come round again)."""
    app = current_app

    def forget_app_pools():
        app._pool = None
        app.amqp._producer_pool = None

    saved = app.conf.broker_url, app.conf.broker_transport_options
    # Celery reads CELERY_BROKER_URL from the environment before its configuration (CI sets it): both change.
    saved_environ = os.environ.get("CELERY_BROKER_URL")
    forget_app_pools()
    os.environ["CELERY_BROKER_URL"] = broker_url
    app.conf.broker_url = broker_url
    app.conf.broker_transport_options = {"visibility_timeout": 3600}
    try:
        assert app.connection_for_write().port == urlsplit(broker_url).port, "still publishing to the usual broker"
        yield
    finally:
        connection = app.connection_for_write()
        for group in (pools.producers, pools.connections):
            if eqhash(connection) in group:
                group[connection].force_close_all()
                del group[connection]
        forget_app_pools()
        if saved_environ is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_environ
        app.conf.broker_url, app.conf.broker_transport_options = saved


class CloudRelay:
    """A TCP relay in front of the local cloud. `down()` refuses new connections and cuts the open ones, as a
    cloud whose API endpoint went away; `up()` brings it back on the same port with everything it held."""

    def __init__(self, target_port: int, port: int):
        self.target_port = target_port
        self.port = port
        self.listener: socket.socket | None = None
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.outages = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.close()
        with self.lock:
            for sock in self.open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self.open.clear()
        self.outages += 1

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (b if sock is a else a).sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self.lock:
                self.open.discard(a)
                self.open.discard(b)
            a.close()
            b.close()


def terraform_commands(process_group: int) -> list[str]:
    """The Terraform subcommands (init, plan, apply, show, …) running in a worker's process group right now; a
    reconciliation's `plan -refresh-only` is "refresh"."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != process_group:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if len(argv) > 1 and os.path.basename(argv[0].decode(errors="replace")) == "terraform":
            found.append("refresh" if b"-refresh-only" in argv else argv[1].decode(errors="replace"))
    return found


def table(title: str, rows: list[tuple[str, object]]) -> str:
    width = max(len(name) for name, _ in rows)
    lines = [title, "-" * len(title)]
    lines += [f"  {name.ljust(width)}  {value}" for name, value in rows]
    return "\n".join(lines) + "\n"
