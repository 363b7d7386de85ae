"""The plugin connection's TLS certificate, loaded at start-up without importing `cryptography`.

The `tf` framework makes a self-signed certificate once and caches it under `$HOME/.cache/tf-python-provider`,
but checks the cached one's expiry by parsing it with `cryptography` at every start: about a fifth of the
provider's start-up, paid several times per plan or apply. This keeps a copy of that certificate with its
expiry written beside it, so a start only reads a small JSON file. When the copy is missing or near its
expiry, the framework's own code loads or makes the certificate, and the copy is renewed from its cache.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CACHE_NAME = "pcloud-plugin-cert.json"
# Renew well before the end: a certificate must stay valid for the whole (short) life of the connection.
RENEW_BEFORE_SECONDS = 3600


def cache_path() -> Path:
    return Path.home() / ".cache" / "tf-python-provider" / CACHE_NAME


def use_cached_certificate(runner: Any) -> None:
    """Make `runner` (the `tf.runner` module) serve with the cached copy while it is valid."""
    framework_certificate = getattr(runner, "_self_signed_cert", None)
    framework_cache = getattr(runner, "_get_cert_cache_path", None)
    if framework_certificate is None or framework_cache is None:
        return  # a `tf` release laid out differently: keep its own behaviour

    def certificate() -> tuple[bytes, Any]:
        cached = load()
        if cached is not None:
            return credentials(cached)
        result = framework_certificate()
        renew(framework_cache())
        return result

    runner._self_signed_cert = certificate


def load(now: Callable[[], float] = time.time) -> dict | None:
    """The cached copy, when it is whole and stays valid for a while yet."""
    try:
        cached = json.loads(cache_path().read_text())
        if float(cached["not_after"]) - RENEW_BEFORE_SECONDS > now() and all(
            isinstance(cached[key], str) for key in ("key_pem", "cert_pem", "cert_chain")
        ):
            return cached
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def credentials(cached: dict) -> tuple[bytes, Any]:
    """What `tf.runner` expects: the DER certificate (for the handshake line) and the gRPC server credentials."""
    import grpc

    return base64.b64decode(cached["cert_chain"]), grpc.ssl_server_credentials(
        private_key_certificate_chain_pairs=[(cached["key_pem"].encode(), cached["cert_pem"].encode())],
        require_client_auth=False,
    )


def renew(framework_cache: Path) -> None:
    """Copy the framework's cached certificate, with its expiry, to our cache (best effort: the next start
    simply takes the slow path again if this fails)."""
    try:
        from cryptography import x509

        cached = json.loads(Path(framework_cache).read_text())
        certificate = x509.load_pem_x509_certificate(cached["cert_pem"].encode())
        copy = {
            "key_pem": cached["key_pem"],
            "cert_pem": cached["cert_pem"],
            "cert_chain": cached["cert_chain"],
            "not_after": certificate.not_valid_after_utc.timestamp(),
        }
        target = cache_path()
        # Written aside and renamed: other provider processes may be reading it at this moment.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(handle, "w") as file:  # mkstemp makes it 0600: it holds the private key
            json.dump(copy, file)
        os.replace(temporary, target)
    except (OSError, ValueError, KeyError, TypeError):
        pass
