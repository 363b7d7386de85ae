"""Builds a workspace's Terraform root module in a scratch directory, from the database alone.

The root module is generated JSON (main.tf.json): the S3 backend at the workspace's state key, the pcloud
provider pointed at the cloud's endpoint, and one `module "main"` block sourcing the published module
version. Plain variables go into terraform.tfvars.json (JSON values are literals there, so a user's text can
never become a Terraform expression); sensitive variables and all credentials reach Terraform only through
the environment.
"""
import json
from dataclasses import dataclass
from pathlib import Path

import hcl2
from django.conf import settings
from pcloud_provider import SOURCE as PROVIDER_SOURCE
from pcloud_provider import VERSION as PROVIDER_VERSION

from catalogue.selectors import module_variables

from .choices import PlanMode, RequestKind, RunKind
from .models import Run, Workspace
from .terraform_client import Redactor, base_environment

MODULE_DIR = "modules"


@dataclass
class PreparedWorkspace:
    directory: Path
    env: dict[str, str]
    redact: Redactor
    sensitive_outputs: set[str]


def module_outputs(files: dict[str, str]) -> dict[str, bool]:
    """Output name → sensitive, read from the module's outputs.tf (no outputs file: no outputs)."""
    source = files.get("outputs.tf", "")
    if not source.strip():
        return {}
    outputs = {}
    for block in hcl2.loads(source).get("output", []):
        for raw_name, body in block.items():
            sensitive = body.get("sensitive", False)
            outputs[raw_name.strip('"')] = sensitive is True or str(sensitive).strip('"${}') == "true"
    return outputs


def backend_config(workspace: Workspace) -> dict:
    return {
        "bucket": settings.STATE_BUCKET,
        "key": workspace.state_key,
        "region": settings.STATE_REGION,
        "endpoint": settings.STATE_ENDPOINT,
        "dynamodb_endpoint": settings.STATE_DYNAMODB_ENDPOINT,
        "dynamodb_table": settings.STATE_LOCK_TABLE,
        "encrypt": True,
        "force_path_style": True,
        "skip_credentials_validation": True,
        "skip_metadata_api_check": True,
        "skip_region_validation": True,
    }


def root_module(
    workspace: Workspace,
    module_name: str,
    variable_names: list[str],
    sensitive_names: set[str],
    outputs: dict[str, bool],
) -> dict:
    root: dict = {
        "terraform": {
            "required_providers": {"pcloud": {"source": PROVIDER_SOURCE, "version": PROVIDER_VERSION}},
            "backend": {"s3": backend_config(workspace)},
        },
        "provider": {
            "pcloud": {
                "endpoint": workspace.cloud.endpoint,
                "region": workspace.cloud.region,
                # Every object the portal creates carries its workspace: the inventory can be traced in the
                # cloud, and the provider adopts (never duplicates) what a dead apply left behind.
                "default_tags": {"portal:workspace": str(workspace.id)},
            }
        },
        "module": {
            "main": {
                "source": f"./{MODULE_DIR}/{module_name}",
                **{name: f"${{var.{name}}}" for name in variable_names},
            }
        },
    }
    # Terraform's JSON syntax refuses an empty "variable" or "output" object.
    if variable_names:
        root["variable"] = {name: ({"sensitive": True} if name in sensitive_names else {}) for name in variable_names}
    if outputs:
        root["output"] = {
            name: {"value": f"${{module.main.{name}}}", "sensitive": sensitive} for name, sensitive in outputs.items()
        }
    return root


def run_imports(run: Run) -> list[dict]:
    """What the run takes over: the workspace's imports, for the plan of the create that adopts them (the runner
    imports each into the workspace's state before planning; see provisioning.runner)."""
    if not run.workspace.imports or run.plan_mode != PlanMode.NORMAL or run.kind != RunKind.PLAN:
        return []
    if run.request is None or run.request.kind != RequestKind.CREATE:
        return []
    return run.workspace.imports


def module_addresses(files: dict[str, str], resource_type: str) -> list[str]:
    """Addresses (type.name) of the module's single resources of one type: what an object can be imported to."""
    addresses = []
    for filename, source in sorted(files.items()):
        if not filename.endswith(".tf") or f'"{resource_type}"' not in source:
            continue
        for block in hcl2.loads(source).get("resource", []):
            for raw_type, named in block.items():
                if raw_type.strip('"') != resource_type:
                    continue
                for raw_name, body in named.items():
                    if "count" not in body and "for_each" not in body:
                        addresses.append(f"{resource_type}.{raw_name.strip(chr(34))}")
    return addresses


def prepare(run: Run, directory: Path) -> PreparedWorkspace:
    """Write the run's root module, module files and variable files; return the environment to run in."""
    workspace = run.workspace
    module = run.module
    declared = {variable.name: variable for variable in module_variables(module)}
    plain = {name: value for name, value in run.variables.items() if name in declared}
    secret = {name: value for name, value in run.secret_variables.items() if name in declared}
    outputs = module_outputs(module.files)

    module_dir = directory / MODULE_DIR / module.name
    module_dir.mkdir(parents=True, exist_ok=True)
    for filename, content in module.files.items():
        if filename.endswith(".tf"):
            (module_dir / filename).write_text(content, encoding="utf-8")
    names = sorted({*plain, *secret})
    (directory / "main.tf.json").write_text(json.dumps(root_module(workspace, module.name, names, set(secret), outputs), indent=2))
    (directory / "terraform.tfvars.json").write_text(json.dumps(plain, indent=2, ensure_ascii=False))

    credentials = workspace.cloud.get_credentials() or {}
    env = {
        **base_environment(),
        # The provider caches its plugin TLS certificate under HOME: keep one HOME across runs.
        "HOME": str(Path(settings.TERRAFORM_HOME) / "home"),
        # The provider's plugin socket directories land here and go with the scratch directory.
        "TMPDIR": str(directory),
        # The state store, under the portal's own account (the S3 backend reads the AWS_* variables).
        "AWS_ACCESS_KEY_ID": settings.STATE_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": settings.STATE_SECRET_ACCESS_KEY,
        # The cloud itself, under the cloud's own account (the pcloud provider reads the PCLOUD_* variables).
        "PCLOUD_ACCESS_KEY_ID": credentials.get("access_key_id", ""),
        "PCLOUD_SECRET_ACCESS_KEY": credentials.get("secret_access_key", ""),
        **{f"TF_VAR_{name}": value if isinstance(value, str) else json.dumps(value) for name, value in secret.items()},
    }
    secrets = [
        credentials.get("secret_access_key", ""),
        settings.STATE_SECRET_ACCESS_KEY,
        *(value if isinstance(value, str) else json.dumps(value) for value in secret.values()),
    ]
    return PreparedWorkspace(
        directory=directory,
        env=env,
        redact=Redactor(secrets),
        sensitive_outputs={name for name, sensitive in outputs.items() if sensitive},
    )
