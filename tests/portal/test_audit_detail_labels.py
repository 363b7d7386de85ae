"""Every detail the portal writes into an audit event has a name in words on the audit page (in both languages),
unless it is for machines only: a new key without a label would show as itself, an English identifier on a
Chinese page."""
import ast
from pathlib import Path

from django.utils import translation

from portal.tables import DETAIL_FOR_MACHINES, DETAIL_LABELS, details_text

ROOT = Path(__file__).resolve().parents[2]
SKIPPED = {".venv", "tests", "migrations", "bench", "terraform", "var"}


def _dict_keys(node: ast.Dict):
    for key, value in zip(node.keys, node.values, strict=True):
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            yield key.value
        if isinstance(value, ast.Dict):
            yield from _dict_keys(value)


def _named_details(target) -> bool:
    return isinstance(target, ast.Name) and target.id == "details"


def written_detail_keys() -> dict[str, str]:
    """The literal keys of every `details` the code builds: `details={...}` arguments, `details = {...}`,
    `details["key"] = ...` and `details.update(key=...)`, with where each is first written."""
    found: dict[str, str] = {}
    for path in sorted(ROOT.glob("*/**/*.py")):
        if SKIPPED & set(path.relative_to(ROOT).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            keys: list[str] = []
            if isinstance(node, ast.keyword) and node.arg == "details" and isinstance(node.value, ast.Dict):
                keys += _dict_keys(node.value)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(_named_details(t) for t in targets) and isinstance(node.value, ast.Dict):
                    keys += _dict_keys(node.value)
                for target in targets:
                    if isinstance(target, ast.Subscript) and _named_details(target.value) \
                            and isinstance(target.slice, ast.Constant):
                        keys.append(target.slice.value)
                        if isinstance(node.value, ast.Dict):
                            keys += _dict_keys(node.value)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update" \
                    and _named_details(node.func.value):
                keys += [keyword.arg for keyword in node.keywords if keyword.arg]
            for key in keys:
                found.setdefault(key, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_the_scan_finds_the_details_the_portal_writes():
    # Keys from each form the scan reads: an argument, a dict built first, a subscript, update(), a nested dict.
    keys = written_detail_keys()
    assert {"suppressed", "checked", "checkpoint", "problem", "head_id", "purged_total", "asked_by"} <= set(keys)


def test_every_detail_key_the_portal_writes_has_a_label():
    unlabelled = {key: where for key, where in written_detail_keys().items()
                  if key not in DETAIL_LABELS and key not in DETAIL_FOR_MACHINES}
    assert not unlabelled, f"add these to portal.tables.DETAIL_LABELS (or DETAIL_FOR_MACHINES): {unlabelled}"


def test_nested_details_are_labelled_too():
    details = {"checked": 12, "checkpoint": {"count": 10, "head_id": 9}}
    with translation.override("zh-hans"):
        assert details_text(details, "audit.verified") == "已校验事件数: 12; 检查点: 事件数=10, 链头事件=9"
    with translation.override("en"):
        text = details_text(details, "audit.verified")
    assert "head_id" not in text and "checkpoint" not in text and "12" in text
