"""Writes of the catalogue: publishing module versions."""
import hashlib
import json
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from portal.errors import Conflict, DomainError
from portal.services import audit_record

from .models import ModuleVersion
from .module_schema import parse_variables

# What a published module carries: its HCL, and its README for people.
MODULE_FILE_SUFFIXES = {".tf", ".md"}


def module_files(directory: Path) -> dict[str, str]:
    if not directory.is_dir():
        raise DomainError(_("找不到模块目录：%(path)s") % {"path": directory})
    files = {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(directory.iterdir())
        if path.is_file() and path.suffix in MODULE_FILE_SUFFIXES
    }
    if "variables.tf" not in files:
        raise DomainError(_("模块目录 %(path)s 中缺少 variables.tf。") % {"path": directory})
    return files


def files_digest(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@transaction.atomic
def module_publish(*, actor, name: str, version: str, directory: Path) -> ModuleVersion:
    """Store the module's files as an immutable version; publishing the same content again changes nothing.

    The variables are parsed first, so a module whose form cannot be built is never published
    (ModuleSchemaError names the module, file and line).
    """
    files = module_files(directory)
    parse_variables(files["variables.tf"], module=name)
    digest = files_digest(files)
    existing = ModuleVersion.objects.filter(name=name, version=version).first()
    if existing is not None:
        if existing.digest != digest:
            raise Conflict(
                _("模块 %(name)s 的 %(version)s 版本已发布且内容不同；修改模块后请使用新的版本号。")
                % {"name": name, "version": version}
            )
        return existing
    module = ModuleVersion.objects.create(name=name, version=version, files=files, digest=digest)
    audit_record(actor=actor, action="module.publish", obj=module, details={"digest": digest})
    return module
