"""The provider in-process: configuration and credentials, the schema contract modules rely on, the client
factory, and start-up staying free of boto3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pcloud_provider
import pytest
from pcloud_provider import clients
from pcloud_provider.provider import PcloudProvider, resolve_default_tags, resolve_settings
from tf.types import Unknown
from tf.utils import Diagnostics

RESOURCES = {f"pcloud_{resource.get_name()}": resource for resource in PcloudProvider().get_resources()}


def test_settings_come_from_the_configuration_before_the_environment() -> None:
    environ = {
        "PCLOUD_ENDPOINT": "http://env:5000",
        "PCLOUD_REGION": "env-region",
        "AWS_REGION": "aws-region",
    }

    assert resolve_settings({"endpoint": "http://config:5000", "region": "config-region"}, environ) == (
        "http://config:5000",
        "config-region",
    )
    assert resolve_settings({"endpoint": None, "region": None}, environ) == ("http://env:5000", "env-region")
    assert resolve_settings({}, {"AWS_DEFAULT_REGION": "default-region"}) == (None, "default-region")


def test_configure_reports_a_missing_region_and_missing_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (
        "PCLOUD_REGION",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        *clients.PCLOUD_VARIABLES,
    ):
        monkeypatch.delenv(variable, raising=False)
    diagnostics = Diagnostics()

    PcloudProvider().configure_provider(diagnostics, {"endpoint": None, "region": None})

    assert [d.summary for d in diagnostics.diagnostics] == [
        "No region for the pcloud provider",
        "No credentials for the pcloud provider",
    ]


def test_provider_block_takes_no_credentials() -> None:
    schema = PcloudProvider().get_provider_schema(Diagnostics())

    assert {attribute.name for attribute in schema.attributes} == {"endpoint", "region", "default_tags"}


AWS = {
    "AWS_ACCESS_KEY_ID": "state-key",
    "AWS_SECRET_ACCESS_KEY": "state-secret",
    "AWS_SESSION_TOKEN": "state-token",
}
PCLOUD = {"PCLOUD_ACCESS_KEY_ID": "cloud-key", "PCLOUD_SECRET_ACCESS_KEY": "cloud-secret"}


def test_pcloud_credentials_win_over_the_aws_ones_without_borrowing_their_token() -> None:
    assert clients.credentials_from_environment({**AWS, **PCLOUD}) == ("cloud-key", "cloud-secret", None)
    assert clients.credentials_from_environment({**AWS, **PCLOUD, "PCLOUD_SESSION_TOKEN": "cloud-token"}) == (
        "cloud-key",
        "cloud-secret",
        "cloud-token",
    )


def test_aws_credentials_are_used_when_no_pcloud_variable_is_present() -> None:
    assert clients.credentials_from_environment(AWS) == ("state-key", "state-secret", "state-token")


@pytest.mark.parametrize(
    "pcloud",
    [
        {
            "PCLOUD_ACCESS_KEY_ID": "",
            "PCLOUD_SECRET_ACCESS_KEY": "",
        },  # what a cloud without credentials gives
        {"PCLOUD_SECRET_ACCESS_KEY": "cloud-secret"},
        {"PCLOUD_ACCESS_KEY_ID": "cloud-key"},
        {"PCLOUD_SESSION_TOKEN": "cloud-token"},
    ],
)
def test_incomplete_pcloud_credentials_never_fall_back_to_the_aws_ones(pcloud: dict[str, str]) -> None:
    with pytest.raises(clients.CredentialsMissing, match="PCLOUD_ACCESS_KEY_ID and PCLOUD_SECRET_ACCESS_KEY"):
        clients.credentials_from_environment({**AWS, **pcloud})


def test_default_tags_may_not_set_the_name_tag() -> None:
    diagnostics = Diagnostics()

    PcloudProvider().validate_config(diagnostics, {"default_tags": {"Name": "web", "portal:workspace": "w"}})

    assert [d.summary for d in diagnostics.diagnostics] == [
        'default_tags may not set "Name"; set it on each resource instead'
    ]


def test_default_tags_are_empty_when_unset_and_unknown_while_any_value_is() -> None:
    assert resolve_default_tags(None) == {}
    assert resolve_default_tags({"portal:workspace": "w"}) == {"portal:workspace": "w"}
    assert resolve_default_tags(Unknown) is Unknown
    assert resolve_default_tags({"portal:workspace": Unknown}) is Unknown


def test_endpoint_must_be_an_http_url() -> None:
    diagnostics = Diagnostics()

    PcloudProvider().validate_config(diagnostics, {"endpoint": "127.0.0.1:5000", "region": None})

    assert diagnostics.has_errors()


@pytest.mark.parametrize(
    ("resource_type", "force_new"),
    [
        ("pcloud_network", {"cidr_block"}),
        ("pcloud_security_group", {"name", "description", "network_id"}),
        ("pcloud_instance", {"image", "subnet_id", "user_data"}),
        ("pcloud_volume", {"zone"}),
        ("pcloud_bucket", {"name"}),
        ("pcloud_database", {"identifier", "engine", "username"}),
    ],
)
def test_only_arguments_the_cloud_cannot_change_force_a_new_object(
    resource_type: str, force_new: set[str]
) -> None:
    attributes = RESOURCES[resource_type].get_schema().attributes

    assert {attribute.name for attribute in attributes if attribute.requires_replace} == force_new


def test_only_secrets_are_sensitive() -> None:
    sensitive = {
        (resource_type, attribute.name)
        for resource_type, resource in RESOURCES.items()
        for attribute in resource.get_schema().attributes
        if attribute.sensitive
    }

    assert sensitive == {("pcloud_database", "password"), ("pcloud_instance", "user_data")}


def test_client_factory_builds_each_client_once(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in clients.PCLOUD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unit")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unit-secret")

    first = clients.client("s3", region="cn-north-1", endpoint="http://127.0.0.1:1")

    assert clients.client("s3", region="cn-north-1", endpoint="http://127.0.0.1:1") is first
    assert clients.client("s3", region="cn-northwest-1", endpoint="http://127.0.0.1:1") is not first


def test_client_factory_refuses_to_run_without_credentials_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    for variable in clients.PCLOUD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)

    with pytest.raises(clients.CredentialsMissing, match="PCLOUD_ACCESS_KEY_ID"):
        clients.client("ec2", region="cn-north-1")


def test_starting_the_provider_does_not_import_boto3() -> None:
    # A fresh interpreter, as Terraform starts it: everything up to serving, but no cloud call.
    package_root = str(Path(pcloud_provider.__file__).parent.parent)
    code = (
        f"import sys; sys.path.insert(0, {package_root!r});"
        "import pcloud_provider.main, pcloud_provider.provider, tf.runner, tf.provider;"
        "print(sorted(name for name in ('boto3', 'botocore') if name in sys.modules))"
    )

    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"
