"""Gets a machine ready to run Terraform offline: the provider mirror and the CLI config that points at it."""
from pathlib import Path

from django.conf import settings
from pcloud_provider import mirror


def terraform_mirror_build() -> Path:
    """Install the project's provider and the operator's extra providers into the mirror; write the CLI
    config (filesystem mirror only, never a download). Idempotent; returns the CLI config path."""
    mirror_dir = Path(settings.TERRAFORM_MIRROR_DIR)
    mirror_dir.mkdir(parents=True, exist_ok=True)
    mirror.install(mirror_dir)
    if settings.TERRAFORM_EXTRA_PROVIDER_DIRS:
        mirror.copy_providers(mirror_dir, settings.TERRAFORM_EXTRA_PROVIDER_DIRS)
    (Path(settings.TERRAFORM_HOME) / "home").mkdir(parents=True, exist_ok=True)
    return mirror.write_cli_config(Path(settings.TERRAFORM_CLI_CONFIG), mirror_dir)


def mirror_providers() -> list[str]:
    """`hostname/namespace/type version os_arch` of every provider the mirror holds."""
    root = Path(settings.TERRAFORM_MIRROR_DIR)
    found = []
    for platform_dir in sorted(root.glob("*/*/*/*/*")):
        if platform_dir.is_dir():
            host, namespace, kind, version, arch = platform_dir.relative_to(root).parts
            found.append(f"{host}/{namespace}/{kind} {version} {arch}")
    return found
