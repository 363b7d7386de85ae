"""Run the whole portal on one machine: the local cloud, a Celery worker and beat, and the web server.

`make dev` ends here. Each part is a child process with its output prefixed by its name; Ctrl-C (or any
part exiting) stops them all.
"""
import os
import selectors
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from portal.demo import DEMO_PASSWORD, USERS


class Command(BaseCommand):
    help = "Run the local cloud, Celery worker, Celery beat and the web server together (development)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--host", default="127.0.0.1")

    def parts(self, host: str, port: int) -> list[tuple[str, list[str]]]:
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        return [
            ("cloud", [python, manage, "local_cloud", "serve"]),
            ("worker", [python, "-m", "celery", "-A", "portal", "worker", "-l", "info", "--concurrency", "2",
                        "-n", "dev-worker@%h", "-Q", ",".join(self.queues())]),
            ("beat", [python, "-m", "celery", "-A", "portal", "beat", "-l", "info",
                      "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")]),
            ("web", [python, manage, "runserver", f"{host}:{port}", "--noreload"]),
        ]

    def queues(self) -> list[str]:
        return sorted({settings.RUN_QUEUE, settings.NOTIFY_QUEUE, *settings.RUN_QUEUES_BY_TIER.values()})

    def handle(self, *args, host: str, port: int, **options):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        children: dict[str, subprocess.Popen] = {}
        chooser = selectors.DefaultSelector()
        for name, argv in self.parts(host, port):
            child = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
            children[name] = child
            chooser.register(child.stdout, selectors.EVENT_READ, name)
        self.stdout.write(self.style.SUCCESS(f"\nPortal: http://{host}:{port}/"))
        self.stdout.write(f"Demo logins (password '{DEMO_PASSWORD}'): " + ", ".join(user[0] for user in USERS))
        self.stdout.write("Ctrl-C stops everything.\n")
        stopping = False

        def stop(*_args):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for key, _mask in chooser.select(timeout=0.5):
                    line = key.fileobj.readline()
                    if line:
                        self.stdout.write(f"[{key.data:6}] {line.decode(errors='replace').rstrip()}")
                exited = [name for name, child in children.items() if child.poll() is not None]
                if exited:
                    self.stderr.write(f"{', '.join(exited)} exited; stopping the rest")
                    break
        finally:
            self.shutdown(children)

    def shutdown(self, children: dict[str, subprocess.Popen]) -> None:
        for child in children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        self.stdout.write("stopped")
