"""Publish Terraform modules from a directory into the catalogue as immutable versions."""
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from catalogue.module_schema import ModuleSchemaError
from catalogue.services import module_publish
from portal.errors import DomainError


class Command(BaseCommand):
    help = "Publish terraform/modules/<name> (or --path) as version --version of module <name>."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="+", help="module names, e.g. vm bucket")
        parser.add_argument("--version", dest="module_version", required=True, help="version to publish, e.g. 1.0.0")
        parser.add_argument("--path", type=Path, help="module directory (default: TERRAFORM_MODULES_DIR/<name>)")

    def handle(self, *args, name, module_version, path, **options):
        for module_name in name:
            directory = path or Path(settings.TERRAFORM_MODULES_DIR) / module_name
            try:
                module = module_publish(actor=None, name=module_name, version=module_version, directory=directory)
            except (ModuleSchemaError, DomainError) as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"{module.name} {module.version} {module.digest[:12]}")
