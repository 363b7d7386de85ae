"""What keeps the provider process quick to start and to stop: the plugin certificate read without
`cryptography`, and an exit that skips the interpreter's teardown only once no cloud change is running."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pcloud_provider
import pytest
from pcloud_provider import inflight, tls

PACKAGE_ROOT = str(Path(pcloud_provider.__file__).resolve().parent.parent)
# A fresh interpreter, as Terraform starts the provider: load the certificate the way `run_provider` does.
LOAD_CERTIFICATE = (
    f"import sys; sys.path.insert(0, {PACKAGE_ROOT!r});"
    "from tf import runner; from pcloud_provider import tls;"
    "tls.use_cached_certificate(runner); chain, _ = runner._self_signed_cert();"
    "print(chain.hex(), 'cryptography' in sys.modules)"
)


def load_certificate(home: Path) -> tuple[str, bool]:
    result = subprocess.run(
        [sys.executable, "-I", "-c", LOAD_CERTIFICATE],
        env={"HOME": str(home), "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        check=True,
    )
    chain, imported = result.stdout.split()
    return chain, imported == "True"


def test_a_start_reads_the_certificate_copy_without_importing_cryptography(tmp_path: Path) -> None:
    first_chain, first_imported = load_certificate(tmp_path)
    second_chain, second_imported = load_certificate(tmp_path)

    assert first_imported and not second_imported  # the first start made the copy
    assert second_chain == first_chain
    framework = json.loads((tmp_path / ".cache/tf-python-provider/ssl_cert.json").read_text())
    assert bytes.fromhex(second_chain) == base64.b64decode(framework["cert_chain"])
    copy = tmp_path / ".cache/tf-python-provider" / tls.CACHE_NAME
    assert copy.stat().st_mode & 0o777 == 0o600  # it holds the private key


def test_a_copy_near_its_expiry_is_renewed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    load_certificate(tmp_path)
    copy = tls.cache_path()
    expiring = json.loads(copy.read_text())
    expiring["not_after"] = time.time() + tls.RENEW_BEFORE_SECONDS / 2
    copy.write_text(json.dumps(expiring))

    assert tls.load() is None
    _, imported = load_certificate(tmp_path)

    assert imported
    assert tls.load() is not None and tls.load()["not_after"] > time.time() + 86400


@pytest.mark.parametrize("content", ["", "{", '{"not_after": "soon"}', '{"not_after": 1e12}'])
def test_a_damaged_copy_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    tls.cache_path().parent.mkdir(parents=True)
    tls.cache_path().write_text(content)

    assert tls.load() is None


def test_exit_waits_for_a_cloud_change_that_is_still_running() -> None:
    release = threading.Event()
    started = threading.Event()

    @inflight.changes_the_cloud
    def create() -> str:
        started.set()
        release.wait(5)
        return "made"

    worker = threading.Thread(target=create)
    worker.start()
    started.wait(5)

    assert inflight.running() == 1
    assert inflight.wait_until_idle(timeout=0.2) is False
    release.set()
    assert inflight.wait_until_idle(timeout=5) is True
    worker.join(5)
    assert inflight.running() == 0


# Terraform, as far as the provider can tell: it starts the provider, reads the handshake, and then dies.
FAKE_TERRAFORM = """
import subprocess, sys, time
provider = subprocess.Popen(
    [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, %r); from pcloud_provider.main import main; main()"],
    stdout=subprocess.PIPE,
)
print(provider.pid, flush=True)
print(provider.stdout.readline().decode().strip(), flush=True)
time.sleep(600)
"""


def process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # exited; a zombie only waits for whoever adopted it to reap it


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_a_provider_whose_terraform_was_killed_exits_by_itself(tmp_path: Path) -> None:
    terraform = subprocess.Popen(
        [sys.executable, "-I", "-c", FAKE_TERRAFORM % PACKAGE_ROOT],
        stdout=subprocess.PIPE,
        text=True,
        env={"HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")},
    )
    provider_pid = int(terraform.stdout.readline())
    try:
        handshake = terraform.stdout.readline()
        assert handshake.startswith("1|"), handshake  # go-plugin's core protocol version first: it is serving
        assert not process_gone(provider_pid)
        terraform.kill()  # as when the worker, and with it Terraform, is killed mid-run
        terraform.wait()
        deadline = time.monotonic() + 15
        while not process_gone(provider_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process_gone(provider_pid), "the provider outlived the Terraform that started it"
    finally:
        if not process_gone(provider_pid):
            os.kill(provider_pid, 9)
