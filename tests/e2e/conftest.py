"""The end-to-end harness: nothing faked. A moto server as the local cloud, the provider mirror, the real
terraform binary, and a real Celery worker process reading the same (test) database through the broker the
settings name (Redis in CI). Tests here use committed data (transactional_db) so the worker sees it."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from provisioning import local_cloud, state_store
from provisioning.terraform_setup import terraform_mirror_build

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def e2e_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("terraform-home")


@pytest.fixture
def e2e_settings(settings, cloud_server, e2e_home, worker_id):
    """Point the portal at the session's local cloud, terraform home and a queue of this test process's own."""
    settings.LOCAL_CLOUD_URL = cloud_server
    settings.STATE_ENDPOINT = cloud_server
    settings.STATE_DYNAMODB_ENDPOINT = cloud_server
    settings.TERRAFORM_HOME = e2e_home
    settings.TERRAFORM_MIRROR_DIR = e2e_home / "mirror"
    settings.TERRAFORM_CLI_CONFIG = e2e_home / "terraform.rc"
    settings.RUN_QUEUE = f"e2e-runs-{worker_id}-{os.getpid()}"
    settings.RUN_QUEUES_BY_TIER = {}
    settings.NOTIFY_QUEUE = f"e2e-notify-{worker_id}-{os.getpid()}"
    terraform_mirror_build()
    state_store.bootstrap()
    return settings


def database_url() -> str:
    """The URL of the database this test process is using right now (the test database)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


class Worker:
    """A real `celery worker` process on this test's queues, with the test process's configuration."""

    def __init__(self, settings_obj, *, concurrency: int = 1, extra_env: dict | None = None):
        self.settings = settings_obj
        self.concurrency = concurrency
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen | None = None
        self.log_path = Path(settings_obj.TERRAFORM_HOME) / f"worker-{time.monotonic_ns()}.log"

    def environment(self) -> dict[str, str]:
        s = self.settings
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": s.CELERY_BROKER_URL,
            "LOCAL_CLOUD_URL": s.LOCAL_CLOUD_URL,
            "STATE_ENDPOINT": s.STATE_ENDPOINT,
            "STATE_DYNAMODB_ENDPOINT": s.STATE_DYNAMODB_ENDPOINT,
            "TERRAFORM_HOME": str(s.TERRAFORM_HOME),
            "TERRAFORM_MIRROR_DIR": str(s.TERRAFORM_MIRROR_DIR),
            "TERRAFORM_CLI_CONFIG": str(s.TERRAFORM_CLI_CONFIG),
            "RUN_QUEUE": s.RUN_QUEUE,
            "NOTIFY_QUEUE": s.NOTIFY_QUEUE,
            "SECRET_KEY": s.SECRET_KEY,
            "CREDENTIALS_KEY": s.CREDENTIALS_KEY,
            "AUDIT_HMAC_KEY": s.AUDIT_HMAC_KEY,  # the worker's events must join the same keyed chain
            "RUN_HEARTBEAT_SECONDS": str(s.RUN_HEARTBEAT_SECONDS),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    def start(self) -> "Worker":
        self.launch()
        self.wait_ready()
        return self

    def launch(self) -> "Worker":
        """Start the process without waiting for it to be ready (the fault suite starts one while others work)."""
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "portal", "worker", "-l", "info", "--pool", "prefork",
                "--concurrency", str(self.concurrency), "-Q", f"{self.settings.RUN_QUEUE},{self.settings.NOTIFY_QUEUE}",
                "-n", f"e2e-{time.monotonic_ns()}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            cwd=ROOT, env=self.environment(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        return self

    @property
    def ready(self) -> bool:
        return " ready." in self.output()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.output()}")
            if self.ready:
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole worker (pool processes and their Terraform with them), like a machine dying."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def celery_worker_process(e2e_settings, transactional_db):
    workers: list[Worker] = []

    def start(**kwargs) -> Worker:
        worker = Worker(e2e_settings, **kwargs).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def local_clouds(e2e_settings):
    """Give every cloud of the test database its own account and keys on the local cloud."""

    def ensure(*clouds):
        for cloud in clouds:
            cloud.endpoint = e2e_settings.LOCAL_CLOUD_URL
            cloud.save(update_fields=["endpoint"])
            local_cloud.cloud_account_ensure(cloud)
            cloud.refresh_from_db()
        return clouds

    return ensure

