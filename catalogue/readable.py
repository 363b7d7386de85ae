"""Values as a person reads them, not as Python prints them: yes/no for booleans, lists joined, objects as
"label: value" lines and lists of objects as small tables, with the module's labels in the reader's language.

`parameter_rows` gives the (label, value) rows of a request's or an instance's parameters, in the module's
order and without any sensitive variable; `readable` turns any JSON value (a plan summary's before and after
too) into a Readable that the templates render (catalogue/templatetags/readable.py).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from .models import ModuleVersion
from .module_i18n import translate_module_text
from .module_schema import ModuleSchemaError, TypeKind, VariableType, attribute_label
from .selectors import module_variables

EMPTY = "—"


@dataclass(frozen=True)
class Readable:
    """One of: `text`; `lines` of (label, text), for an object or a map; or a `table` (`headers`, `rows`)."""

    text: str = ""
    lines: tuple[tuple[str, str], ...] = ()
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()

    @property
    def is_table(self) -> bool:
        return bool(self.headers)

    def __str__(self) -> str:
        """The value on one line, for places that have room for no more."""
        if self.is_table:
            return "; ".join(", ".join(f"{h}: {c}" for h, c in zip(self.headers, row, strict=False)) for row in self.rows)
        if self.lines:
            return "; ".join(f"{label}: {text}" for label, text in self.lines)
        return self.text


@dataclass(frozen=True)
class ParameterRow:
    name: str
    label: str
    value: Readable
    help_text: str = ""


def parameter_rows(module: ModuleVersion | None, parameters: Mapping[str, Any] | None) -> list[ParameterRow]:
    """The parameters with their form labels and plain values, in the module's order; sensitive variables never
    appear, and a parameter the module no longer declares still shows, under a label made from its name."""
    parameters = parameters or {}
    try:
        variables = module_variables(module) if module is not None else []
    except ModuleSchemaError:
        variables = []
    declared = {variable.name for variable in variables}
    rows = [
        ParameterRow(
            name=variable.name,
            label=translate_module_text(variable.label),
            value=readable(parameters[variable.name], variable.type),
            help_text=translate_module_text(variable.description),
        )
        for variable in variables
        if variable.name in parameters and not variable.sensitive
    ]
    rows += [
        ParameterRow(name=name, label=translate_module_text(attribute_label(name)), value=readable(value))
        for name, value in parameters.items()
        if name not in declared
    ]
    return rows


def readable(value: Any, type_: VariableType | None = None, *, translate: Callable[[str], str] = translate_module_text) -> Readable:
    """A value as text, lines or a table. With the variable's type, object attributes get the module's labels."""
    if isinstance(value, Mapping):
        if not value:
            return Readable(text=EMPTY)
        return Readable(lines=tuple((_key_label(key, type_, translate), inline(item)) for key, item in value.items()))
    if isinstance(value, list | tuple) and value and all(isinstance(item, Mapping) for item in value):
        element = type_.element if type_ is not None else None
        keys: list[str] = []
        if element is not None and element.kind is TypeKind.OBJECT:
            keys = [name for name, _type in element.attributes]
        for item in value:
            keys += [key for key in item if key not in keys]
        headers = tuple(_key_label(key, element, translate) for key in keys)
        return Readable(headers=headers, rows=tuple(tuple(inline(item.get(key)) for key in keys) for item in value))
    return Readable(text=inline(value))


def inline(value: Any) -> str:
    """A value on one line: 是/否, numbers without a needless .0, lists joined, objects as "key: value"."""
    if value is None:
        return EMPTY
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Mapping):
        if not value:
            return EMPTY
        return pgettext("list separator", "、").join(f"{key}: {inline(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        if not value:
            return EMPTY
        return pgettext("list separator", "、").join(inline(item) for item in value)
    return str(value)


def _key_label(key: str, type_: VariableType | None, translate: Callable[[str], str]) -> str:
    """An object's attribute by the module's label; a map's keys are the requester's own words, shown as typed."""
    if type_ is not None and type_.kind is TypeKind.OBJECT and type_.attribute(key) is not None:
        return translate(attribute_label(key))
    return str(key)
