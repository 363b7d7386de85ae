"""The local cloud: `serve` runs the moto server and bootstraps it; `bootstrap` prepares a running one."""
import signal
import threading

from django.core.management.base import BaseCommand

from provisioning import local_cloud
from provisioning.terraform_setup import terraform_mirror_build


class Command(BaseCommand):
    help = "serve: run the local AWS-compatible cloud (moto) and bootstrap it; bootstrap: prepare a running one."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["serve", "bootstrap"])

    def handle(self, *args, action, **options):
        if action == "bootstrap":
            self.report(local_cloud.bootstrap())
            return
        server = local_cloud.serve()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        try:
            terraform_mirror_build()
            self.report(local_cloud.bootstrap())
            self.stdout.write("local cloud ready")
            stop.wait()
        finally:
            server.stop()

    def report(self, counts: dict) -> None:
        self.stdout.write(f"local cloud: {counts['clouds']} clouds, {counts['new_keys']} new access keys, state store ready")
