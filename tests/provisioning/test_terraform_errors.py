"""When Terraform fails, the run, the request page and the API say why in Terraform's own words: each error's
summary and detail, first error first, read from the real output of Terraform 1.0.3 (fixtures/), plain or
coloured and boxed. Before, they showed the last 15 lines of the log: for an unknown zone, the tail of the
cloud's list of zones and not the sentence saying the zone was wrong."""
import pickle
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from provisioning.choices import RequestStatus, RunStatus
from provisioning.terraform_client import (
    Diagnostic,
    TerraformClient,
    TerraformError,
    base_environment,
    parse_diagnostics,
)
from tests.provisioning.clients import Api, html
from tests.provisioning.conftest import finish_run
from tests.provisioning.test_requests import submitted

FIXTURES = Path(__file__).parent / "fixtures" / "terraform-1.0.3"
ZONE_SENTENCE = "Value (cn-north-1z) for parameter availabilityZone is invalid."


def output(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["apply_unknown_zone.txt", "apply_unknown_zone_boxed.txt"])
def test_the_providers_error_is_read_plain_or_boxed(name):
    [error] = parse_diagnostics(output(name))

    assert error.severity == "error"
    assert error.summary == "Could not create pcloud_network"
    # The detail's lines, wrapped by Terraform at 78 columns, are one sentence again; the snippet is gone.
    assert error.detail.startswith(
        "An error occurred (InvalidParameterValue) when calling the CreateSubnet operation: " + ZONE_SENTENCE
    )
    assert "cn-north-1a, cn-north-1b" in error.detail
    assert "main.tf line 34" not in error.detail and "│" not in error.detail and "\x1b" not in error.detail


def test_errors_come_in_order_after_a_warning():
    diagnostics = parse_diagnostics(output("plan_warning_and_two_errors_boxed.txt"))

    assert [(d.severity, d.summary) for d in diagnostics] == [
        ("warning", "Value for undeclared variable"),
        ("error", "Invalid value for variable"),
        ("error", "Invalid value for variable"),
    ]
    assert diagnostics[1].detail == (
        "The name must be 3 to 31 lowercase letters, digits or hyphens, starting with a letter.\n"
        "This was checked by the validation rule at main.tf:3,3-13."
    )
    assert diagnostics[2].detail.startswith("The zone must be an availability zone name such as cn-north-1a.")
    assert parse_diagnostics(output("plan_two_invalid_variables.txt")) == diagnostics[1:]


def test_an_indented_line_of_the_detail_keeps_its_own_line():
    [error] = parse_diagnostics(output("init_missing_provider.txt"))
    assert error == Diagnostic(
        "error",
        "Failed to query available provider packages",
        "Could not retrieve the list of available versions for provider hashicorp/null: provider "
        "registry.terraform.io/hashicorp/null was not found in any of the search locations\n"
        "- /srv/cloud-portal/var/terraform/mirror",
    )


def test_the_error_says_the_cause_first():
    error = TerraformError("apply", 1, output("apply_unknown_zone.txt"))

    text = str(error)
    assert text.startswith("Terraform apply 失败：Could not create pcloud_network\nAn error occurred (InvalidParameterValue)")
    assert ZONE_SENTENCE in text
    assert error.summary == f"{error.errors[0].summary}\n{error.errors[0].detail}"
    assert "Creating..." not in text
    with translation.override("en"):
        assert str(error).startswith("Terraform apply failed: Could not create pcloud_network\n")


def test_every_error_is_named_and_warnings_are_not():
    error = TerraformError("plan", 1, output("plan_warning_and_two_errors_boxed.txt"))

    assert str(error) == (
        "Terraform plan 失败：Invalid value for variable\n"
        "The name must be 3 to 31 lowercase letters, digits or hyphens, starting with a letter.\n"
        "This was checked by the validation rule at main.tf:3,3-13.\n\n"
        "Invalid value for variable\n"
        "The zone must be an availability zone name such as cn-north-1a.\n"
        "This was checked by the validation rule at main.tf:10,3-13."
    )


def test_a_long_list_of_errors_is_cut_with_a_count():
    many = "".join(f"\nError: Problem {n}\n\n{'word ' * 300}\n" for n in range(5))
    text = str(TerraformError("apply", 1, many))
    assert "Problem 0" in text and "Problem 1" in text and "Problem 4" not in text
    assert text.endswith("另有 3 个错误，详见运行日志。")


def test_output_without_a_diagnostic_shows_its_end():
    lines = [f"line {n}" for n in range(30)]
    error = TerraformError("apply", 2, "\n".join(["\x1b[1mstarting\x1b[0m", *lines]))
    assert str(error) == "Terraform apply 失败（退出码 2）：\n" + "\n".join(lines[-15:])


def test_the_error_pickles():
    error = TerraformError("apply", 1, output("apply_unknown_zone_boxed.txt"))
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.errors == error.errors


def test_real_terraform_output_read_by_the_client(tmp_path):
    """The client itself runs terraform (no provider needed) and raises the error with the cause."""
    (tmp_path / "main.tf").write_text(
        'variable "zone" {\n  type = string\n  validation {\n'
        '    condition     = can(regex("^[a-z]{2}-[a-z]+-[0-9][a-z]$", var.zone))\n'
        '    error_message = "The zone must be an availability zone name such as cn-north-1a."\n  }\n}\n'
    )
    (tmp_path / "terraform.tfvars.json").write_text('{"zone": "north"}')
    home = tmp_path / "home"
    home.mkdir()
    env = {**base_environment(), "HOME": str(home)}
    if not Path(env["TF_CLI_CONFIG_FILE"]).exists():
        env["TF_CLI_CONFIG_FILE"] = str(tmp_path / "none.rc")
        (tmp_path / "none.rc").write_text("")
    assert shutil.which(settings.TERRAFORM_BIN) or Path(settings.TERRAFORM_BIN).exists()
    client = TerraformClient(workdir=tmp_path, env=env)

    with pytest.raises(TerraformError) as error:
        client.plan("plan.bin")

    assert error.value.errors[0].summary == "Invalid value for variable"
    assert str(error.value).startswith(
        "Terraform plan 失败：Invalid value for variable\nThe zone must be an availability zone name such as cn-north-1a."
    )


@pytest.mark.django_db
def test_the_request_page_and_the_api_show_the_cause(journey):
    request = submitted(journey["requester"], journey["offering"])
    finish_run(request.plan_run, RunStatus.FAILED, error=str(TerraformError("plan", 1, output("apply_unknown_zone.txt"))))
    request.refresh_from_db()
    assert request.status == RequestStatus.FAILED

    page = html(journey["requester"], reverse("provisioning:request_detail", args=[request.pk]))
    assert "Could not create pcloud_network" in page and ZONE_SENTENCE in page
    body = Api(journey["requester"]).get(f"/api/v1/requests/{request.pk}/").json()
    assert body["error"].startswith("Terraform plan 失败：Could not create pcloud_network\n")
