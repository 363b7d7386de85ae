"""Install providers into a Terraform filesystem mirror and write the CLI config that makes Terraform use it.

Terraform must never download anything, so every provider it may use sits in one unpacked mirror:
`<mirror>/<hostname>/<namespace>/<type>/<version>/<os>_<arch>/terraform-provider-<type>_v<version>`.
`install` puts the pcloud provider there, `copy_providers` adds the vendor providers an operator supplies,
and `write_cli_config` writes the file to point TF_CLI_CONFIG_FILE at. Each function is idempotent: a second
run with the same inputs changes no file.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pcloud_provider
from pcloud_provider import HOSTNAME, NAMESPACE, TYPE_NAME, VERSION

# <hostname>/<namespace>/<type>/<version>/<os>_<arch>/<file>
LAYOUT_DEPTH = 6
ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}

# `-I` keeps the Celery worker's PYTHON* variables and user site-packages out of the provider process.
PROVIDER_SCRIPT = '''\
#!{python} -I
"""terraform-provider-{type_name} {version}, written by pcloud_provider.mirror.install. Do not edit."""
import sys

sys.path.insert(0, {package_root!r})
from pcloud_provider.main import main

main()
'''


def platform_name() -> str:
    """Terraform's name for this machine's platform, e.g. linux_amd64."""
    machine = platform.machine().lower()
    return f"{sys.platform}_{ARCHITECTURES.get(machine, machine)}"


def install(mirror_dir: Path, python: str = sys.executable) -> Path:
    """Write the pcloud provider's executable into the mirror, run by `python`; return its path."""
    target = (
        Path(mirror_dir)
        / HOSTNAME
        / NAMESPACE
        / TYPE_NAME
        / VERSION
        / platform_name()
        / f"terraform-provider-{TYPE_NAME}_v{VERSION}"
    )
    script = PROVIDER_SCRIPT.format(
        python=python,
        type_name=TYPE_NAME,
        version=VERSION,
        package_root=str(Path(pcloud_provider.__file__).resolve().parent.parent),
    )
    _write_if_changed(target, script, mode=0o755)
    return target


def copy_providers(mirror_dir: Path, sources: Iterable[Path]) -> list[Path]:
    """Copy operator-supplied providers, each source in the unpacked mirror layout, into the mirror.

    Returns the provider directories (`<mirror>/<hostname>/<namespace>/<type>/<version>/<os>_<arch>`) now
    holding them. A source with a file outside that layout is refused before anything is copied.
    """
    copies: list[tuple[Path, Path]] = []
    for source in map(Path, sources):
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source)
            if path.is_dir() and len(relative.parts) < LAYOUT_DEPTH:
                continue
            if not path.is_file() or len(relative.parts) != LAYOUT_DEPTH:
                raise ValueError(
                    f"{path} is not at <hostname>/<namespace>/<type>/<version>/<os>_<arch>/<file> under {source}"
                )
            copies.append((path, Path(mirror_dir) / relative))
    for path, target in copies:
        if not _same_file(path, target):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(
                path, target
            )  # keeps the mode (executable) and the time, which `_same_file` compares
    return sorted({target.parent for _, target in copies})


def write_cli_config(config_path: Path, mirror_dir: Path) -> Path:
    """Write a Terraform CLI config that installs providers from `mirror_dir` only; return its path."""
    content = f"""\
# Written by pcloud_provider.mirror: providers come from the filesystem mirror only, nothing is downloaded.
disable_checkpoint = true

provider_installation {{
  filesystem_mirror {{
    path = {_hcl_string(str(Path(mirror_dir).resolve()))}
  }}
  direct {{
    exclude = ["*/*/*"]
  }}
}}
"""
    _write_if_changed(Path(config_path), content, mode=0o644)
    return Path(config_path)


def _hcl_string(value: str) -> str:
    """A quoted HCL string: JSON escapes, and template sequences (${, %{) made literal."""
    return json.dumps(value).replace("${", "$${").replace("%{", "%%{")


def _same_file(source: Path, target: Path) -> bool:
    if not target.is_file():
        return False
    source_stat, target_stat = source.stat(), target.stat()
    return source_stat.st_size == target_stat.st_size and int(source_stat.st_mtime) == int(
        target_stat.st_mtime
    )


def _write_if_changed(path: Path, content: str, mode: int) -> None:
    if path.is_file() and path.read_text() == content and path.stat().st_mode & 0o777 == mode:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write aside and rename: a Terraform run may be starting the old file at this very moment.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as file:
        file.write(content)
    os.chmod(temporary, mode)
    os.replace(temporary, path)
