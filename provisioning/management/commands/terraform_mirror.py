"""Build the Terraform provider mirror (the project's provider plus TERRAFORM_EXTRA_PROVIDER_DIRS)."""
from django.core.management.base import BaseCommand

from provisioning.terraform_setup import mirror_providers, terraform_mirror_build


class Command(BaseCommand):
    help = "Install providers into the filesystem mirror and write the Terraform CLI config (no downloads, ever)."

    def handle(self, *args, **options):
        config = terraform_mirror_build()
        for provider in mirror_providers():
            self.stdout.write(f"mirror: {provider}")
        self.stdout.write(f"cli config: {config}")
