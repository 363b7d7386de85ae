"""What a cloud offers: its availability zones, operating system images, VM flavours and database classes.

Only the cloud can judge these values (a zone that looks right may not exist there), so each Cloud declares
them in `Cloud.offers`, a JSON object of lists:

    {"zones": ["cn-north-1a", "cn-north-1b"],       required: every cloud has zones
     "images": ["kylin-v10", "uos-20"],             optional, like the two below
     "flavors": ["small", "medium", "large"],
     "db_classes": ["db.t3.small", "db.t3.medium"]}

A kind left out is not narrowed by the cloud: the module's own rules decide alone. `restrict_to_offers` turns
the lists into validation rules on the module variables they apply to (by name, see OFFER_KINDS), so the
request form offers them as choices, the JSON Schema lists them, and validate_values refuses anything else
with a message naming the cloud and listing what it offers. A module's own rules still apply as well.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import pgettext, pgettext_lazy

from .module_schema import Rule, RuleKind, TypeKind, Variable, validate_values, with_rule

MAX_VALUE_LENGTH = 64


@dataclass(frozen=True)
class OfferKind:
    """One list a cloud declares, and the module inputs it narrows: string variables by name, string
    attributes of a list of objects by name (a network's subnets[*].zone), lists of strings by name."""

    key: str
    label: Promise
    variables: tuple[str, ...]
    attributes: tuple[str, ...] = ()
    list_variables: tuple[str, ...] = ()
    example: tuple[str, ...] = ()


OFFER_KINDS = (
    OfferKind(
        "zones", pgettext_lazy("offer kind, in a sentence", "可用区"), ("zone", "availability_zone"), ("zone", "availability_zone"),
        ("zones", "availability_zones"), ("cn-north-1a", "cn-north-1b"),
    ),
    OfferKind("images", pgettext_lazy("offer kind, in a sentence", "操作系统镜像"), ("os_image", "image"), example=("kylin-v10", "uos-20")),
    OfferKind("flavors", pgettext_lazy("offer kind, in a sentence", "云主机规格"), ("flavor", "instance_type"), example=("small", "medium")),
    OfferKind(
        "db_classes", pgettext_lazy("offer kind, in a sentence", "数据库规格"), ("instance_class", "db_class"),
        example=("db.t3.small", "db.t3.medium"),
    ),
)
OFFER_KEYS = tuple(kind.key for kind in OFFER_KINDS)
REQUIRED_KEYS = ("zones",)


def _listing(values: Sequence[Any]) -> str:
    return pgettext("list separator", "、").join(str(value) for value in values)


def _example(kind: OfferKind) -> str:
    return json.dumps(list(kind.example), ensure_ascii=False)


def offer_label(key: str) -> str:
    return str(next(kind.label for kind in OFFER_KINDS if kind.key == key))


# Declaring --------------------------------------------------------------------------------------------------


def validate_offers(offers: Any) -> None:
    """Refuse a declaration that is not an object of non-empty lists of distinct names; every problem is
    reported, each saying what to write instead."""
    if not isinstance(offers, dict):
        raise ValidationError(
            _('请填写一个 JSON 对象，例如 {"zones": ["cn-north-1a", "cn-north-1b"], "images": ["kylin-v10"]}。')
        )
    problems: list[str] = []
    for key in offers:
        if key not in OFFER_KEYS:
            problems.append(
                _("未知的项 %(key)s；可填写的项：%(keys)s。")
                % {"key": json.dumps(key, ensure_ascii=False), "keys": _listing(
                    [_("%(key)s（%(label)s）") % {"key": kind.key, "label": kind.label} for kind in OFFER_KINDS]
                )}
            )
    for kind in OFFER_KINDS:
        if kind.key not in offers:
            if kind.key in REQUIRED_KEYS:
                problems.append(
                    _("请填写此云的%(label)s（%(key)s），例如 %(example)s。")
                    % {"label": kind.label, "key": kind.key, "example": _example(kind)}
                )
            continue
        values = offers[kind.key]
        if not isinstance(values, list) or not values or not all(isinstance(value, str) for value in values):
            problems.append(
                _("%(label)s（%(key)s）须是至少一项的文本列表，例如 %(example)s；不限制时请删去此项。")
                % {"label": kind.label, "key": kind.key, "example": _example(kind)}
            )
            continue
        seen: set[str] = set()
        for value in values:
            if not value or value != value.strip() or any(c.isspace() for c in value) or len(value) > MAX_VALUE_LENGTH:
                problems.append(
                    _("%(label)s（%(key)s）中的 %(value)s 不是有效的名称：不能为空或含空白，最长 %(max)d 个字符。")
                    % {"label": kind.label, "key": kind.key, "value": json.dumps(value, ensure_ascii=False),
                       "max": MAX_VALUE_LENGTH}
                )
            elif value in seen:
                problems.append(
                    _("%(label)s（%(key)s）中的 %(value)s 重复了。")
                    % {"label": kind.label, "key": kind.key, "value": value}
                )
            seen.add(value)
    if problems:
        raise ValidationError(problems)


def offers_refused_by_module(
    offers: dict, variables: Sequence[Variable], *, module: str, translate: Callable[[str], str]
) -> list[str]:
    """Declared values the module's own rules refuse (a flavour the module has no size for, a zone name of
    the wrong shape): the form would offer them and every request would fail."""
    problems: list[str] = []
    by_name = {variable.name: variable for variable in variables}
    for kind in OFFER_KINDS:
        values = offers.get(kind.key) if isinstance(offers, dict) else None
        if not isinstance(values, list):
            continue
        for name in kind.variables:
            variable = by_name.get(name)
            if variable is None or variable.type.kind is not TypeKind.STRING:
                continue
            for value in values:
                if not isinstance(value, str):
                    continue
                _cleaned, errors = validate_values([variable], {name: value}, translate=translate)
                if errors:
                    problems.append(
                        _("模块 %(module)s 不接受%(label)s %(value)s：%(reason)s")
                        % {"module": module, "label": kind.label, "value": value, "reason": " ".join(errors[name])}
                    )
    return problems


# Requesting -------------------------------------------------------------------------------------------------


def restrict_to_offers(variables: Sequence[Variable], offers: dict, *, cloud: str) -> list[Variable]:
    """The variables narrowed to what the cloud offers, each with a rule whose message names the cloud and
    lists its values. A default the cloud does not offer becomes its first offered value that the module
    accepts, so leaving the field alone still asks for something the cloud has."""
    if not isinstance(offers, dict):
        return list(variables)
    restricted = []
    for variable in variables:
        for kind in OFFER_KINDS:
            values = offers.get(kind.key)
            if isinstance(values, list) and values:
                variable = _restrict(variable, kind, tuple(values), cloud)
        restricted.append(variable)
    return restricted


def _restrict(variable: Variable, kind: OfferKind, values: tuple[str, ...], cloud: str) -> Variable:
    type_ = variable.type
    condition = f"offered by {cloud}"
    message = _("%(cloud)s提供的%(label)s为：%(values)s，请从中选择。") % {
        "cloud": cloud, "label": kind.label, "values": _listing(values),
    }
    if type_.kind is TypeKind.STRING and variable.name in kind.variables:
        # The cloud's message lists every value that would pass, so it stands alone when it applies.
        narrowed = with_rule(variable, Rule(RuleKind.CHOICES, {"choices": values}, message, condition, overrides=True))
        return _offered_default(narrowed)
    if type_.kind in (TypeKind.LIST, TypeKind.SET) and type_.element is not None:
        element = type_.element
        if element.kind is TypeKind.STRING and variable.name in kind.list_variables:
            inner = Rule(RuleKind.CHOICES, {"choices": values}, message, condition)
            return with_rule(variable, Rule(RuleKind.EACH, {"rule": inner}, message, condition))
        if element.kind is TypeKind.OBJECT:
            for attribute in kind.attributes:
                attribute_type = element.attribute(attribute)
                if attribute_type is not None and attribute_type.kind is TypeKind.STRING:
                    attribute_message = _(
                        "%(cloud)s提供的%(label)s为：%(values)s；每一项的 %(attribute)s 须从中选择。"
                    ) % {"cloud": cloud, "label": kind.label, "values": _listing(values), "attribute": attribute}
                    inner = Rule(RuleKind.CHOICES, {"choices": values}, attribute_message, condition, (attribute,))
                    variable = with_rule(variable, Rule(RuleKind.EACH, {"rule": inner}, attribute_message, condition))
    return variable


def _offered_default(variable: Variable) -> Variable:
    if variable.required or variable.default is None or _accepted(variable, variable.default):
        return variable
    for candidate in variable.choices or ():
        if _accepted(variable, candidate):
            return replace(variable, default=candidate)
    return variable


def _accepted(variable: Variable, value: Any) -> bool:
    _cleaned, errors = validate_values([variable], {variable.name: value})
    return not errors
