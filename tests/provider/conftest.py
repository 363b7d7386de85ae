"""Fixtures for the provider tests: one local cloud (moto server) per session, the provider mirror with the
CLI config a worker would use, and a Terraform workspace per test module.

Nothing here needs Django, so `pytest tests/provider -p no:django --confcutdir=tests/provider` runs these
tests without the project's settings.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from pcloud_provider import mirror

from tests.provider.cloud import (
    CLOUD_ACCOUNT_ID,
    CREDENTIALS,
    PCLOUD_CREDENTIAL_VARIABLES,
    Account,
    Cloud,
)
from tests.provider.workspace import Workspace


@pytest.fixture(scope="session")
def cloud() -> Iterator[Cloud]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    saved = {name: os.environ.get(name) for name in (*CREDENTIALS, *PCLOUD_CREDENTIAL_VARIABLES)}
    for name in PCLOUD_CREDENTIAL_VARIABLES:  # they would win over CREDENTIALS
        os.environ.pop(name, None)
    os.environ.update(CREDENTIALS)  # the client factory reads credentials from the environment only
    host, port = server.get_host_and_port()
    yield Cloud(endpoint=f"http://{host}:{port}")
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    server.stop()


@pytest.fixture(scope="session")
def cloud_account(cloud: Cloud) -> Account:
    """A second account of the local cloud, as one cloud's tenant, with its own access key."""
    return Account.create(cloud.endpoint, CLOUD_ACCOUNT_ID)


@pytest.fixture(scope="session")
def terraform_env(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment a worker gives Terraform: mirror-only CLI config, credentials, no prompts."""
    root = tmp_path_factory.mktemp("terraform")
    mirror.install(root / "mirror")
    config = mirror.write_cli_config(root / "terraform.rc", root / "mirror")
    return {
        **os.environ,
        **CREDENTIALS,
        "TF_CLI_CONFIG_FILE": str(config),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
    }


@pytest.fixture(scope="module")
def workspace(terraform_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """One workspace per test module, for a module whose tests walk one configuration through stages."""
    return Workspace(tmp_path_factory.mktemp("workspace"), terraform_env)
