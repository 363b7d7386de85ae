"""The request form of an offering, generated from its module's variables (see module_schema).

Fields only turn the browser's text into plain values (numbers, lists of lines, parsed JSON) and say when a
required one is empty, in validate_values's words; the form's clean() then runs validate_values, the very
check the API runs, and puts each message beside its field. A stored or default sensitive value is never
written into the page; one the person has just typed comes back only when another field was wrong, so an
error elsewhere does not make them type the password again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundField
from django.forms.fields import InvalidJSONInput
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.jsonlimits import DepthLimitedJSONDecoder, json_too_deep, too_deep_message

from .module_schema import PRIMITIVE_KINDS, TypeKind, Variable, parse_number, validate_values

BLANK_CHOICE = ("", "---------")


class NumberField(forms.Field):
    """A number typed as text: int when it is whole, float otherwise."""

    widget = forms.NumberInput(attrs={"step": "any"})
    default_error_messages = {"invalid": gettext_lazy("请输入数字。")}

    def to_python(self, value: Any) -> int | float | None:
        if value in self.empty_values:
            return None
        try:
            return parse_number(str(value).strip())
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class ModuleChoiceField(forms.TypedChoiceField):
    """A choice among the values a contains() rule allows; any other value gets that rule's own message."""

    def valid_value(self, value: Any) -> bool:
        return True


class LinesField(forms.CharField):
    """A list of strings or numbers typed one item per line; blank lines are skipped, so a box emptied by the
    requester is an empty list (a box missing from the submission is not given at all)."""

    widget = forms.Textarea(attrs={"rows": 4})
    default_error_messages = {"invalid_number": gettext_lazy("第 %(line)d 行：请输入数字。")}

    def __init__(self, *, numbers: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.numbers = numbers

    def to_python(self, value: Any) -> list[str | int | float] | None:
        if value is None:
            return None
        items: list[str | int | float] = []
        for number, line in enumerate(str(value).splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(parse_number(line.strip()) if self.numbers else line.strip())
            except ValueError:
                raise ValidationError(
                    self.error_messages["invalid_number"], code="invalid_number", params={"line": number}
                ) from None
        return items

    def validate(self, value: Any) -> None:
        # An emptied box is an empty list, which even a required list accepts, as in the API and Terraform.
        if value != []:
            super().validate(value)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return "\n".join(_text(item) for item in value)
        return value


class JsonValueField(forms.JSONField):
    """A map, object or list of objects typed as JSON and shown indented; a mistake is reported by place."""

    widget = forms.Textarea(attrs={"rows": 6})
    # [] and {} are values a requester typed, not an empty box.
    empty_values = [None, ""]

    def __init__(self, **kwargs: Any) -> None:
        # The form parses what was typed again to show it back; too deep must be invalid there too.
        super().__init__(decoder=DepthLimitedJSONDecoder, **kwargs)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and json_too_deep(value):
            raise ValidationError(too_deep_message(), code="too_deep")
        try:
            return super().to_python(value)
        except ValidationError:
            try:
                json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValidationError(
                    _("JSON 格式有误：请检查第 %(line)d 行第 %(column)d 列附近。"),
                    code="invalid",
                    params={"line": exc.lineno, "column": exc.colno},
                ) from None
            raise

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, InvalidJSONInput):
            return value
        return "" if value is None else json.dumps(value, ensure_ascii=False, indent=2)


class SecretTextarea(forms.Textarea):
    """A textarea that, like PasswordInput, writes its value into the page only when `render_value` is set."""

    render_value = False

    def format_value(self, value: Any) -> str | None:
        return super().format_value(value) if self.render_value else None


class SecretBoundField(BoundField):
    """A sensitive field writes a value into the page only when it is what the person just typed and it was
    right: never an initial or stored value, never a value refused beside this very field."""

    def as_widget(self, widget=None, attrs=None, only_initial=False):
        widget = widget or self.field.widget
        widget.render_value = self.form.is_bound and not self.errors
        return super().as_widget(widget, attrs, only_initial)


class ModuleForm(forms.Form):
    """Base of the generated forms; build_form_class sets the variables and how module texts translate."""

    variables: Sequence[Variable] = ()

    @staticmethod
    def translate(text: str) -> str:
        return text

    def clean(self) -> dict[str, Any]:
        submitted = {name: value for name, value in super().clean().items() if value is not None}
        values, errors = validate_values(self.variables, submitted, translate=self.translate)
        # A field that is empty or could not be read has said so already; its value is simply missing here.
        unreadable = set(self.errors)
        self.cleaned_data = {name: value for name, value in values.items() if name not in unreadable}
        for name, messages in errors.items():
            if name not in unreadable:
                for message in messages:
                    self.add_error(name, message)
        return self.cleaned_data


def build_form_class(
    variables: Sequence[Variable], *, translate: Callable[[str], str] = lambda text: text
) -> type[ModuleForm]:
    """A form class with one field per variable, in the module's order."""
    fields = {variable.name: _field(variable, translate) for variable in variables}
    attributes = {**fields, "variables": tuple(variables), "translate": staticmethod(translate)}
    return type("ModuleParametersForm", (ModuleForm,), attributes)


def _field(variable: Variable, translate: Callable[[str], str]) -> forms.Field:
    kind = variable.type.kind
    element = variable.type.element
    hint = ""
    options: dict[str, Any] = {}
    if kind is TypeKind.BOOL and not variable.sensitive:
        optional_null = variable.default is None and not variable.required
        field_class: type[forms.Field] = forms.NullBooleanField if optional_null else forms.BooleanField
    elif variable.choices is not None:
        field_class = ModuleChoiceField
        blank = [BLANK_CHOICE] if variable.default is None else []
        options.update(
            choices=[*blank, *((_text(choice), _text(choice)) for choice in variable.choices)],
            empty_value=None,
        )
    elif kind is TypeKind.NUMBER:
        field_class = NumberField
    elif kind in PRIMITIVE_KINDS:
        field_class = forms.CharField  # strings, and sensitive booleans typed as true or false
        options["empty_value"] = None
    elif kind in (TypeKind.LIST, TypeKind.SET) and element is not None and element.kind in PRIMITIVE_KINDS:
        field_class = LinesField
        options["numbers"] = element.kind is TypeKind.NUMBER
        hint = _("每行一项。")
    else:
        field_class = JsonValueField
        hint = _("请以 JSON 格式填写。")

    if variable.sensitive:
        multiline = issubclass(field_class, LinesField | JsonValueField)
        options["widget"] = (
            SecretTextarea(attrs={"rows": 4}) if multiline else forms.PasswordInput(render_value=False)
        )
        options["bound_field_class"] = SecretBoundField
    else:
        options["initial"] = variable.default
    description = translate(variable.description) if variable.description else ""
    # A checkbox left unticked is false, never missing.
    checkbox = issubclass(field_class, forms.BooleanField)
    return field_class(
        label=translate(variable.label),
        help_text=" ".join(filter(None, (description, hint))),
        required=variable.required and not checkbox,
        error_messages={"required": _("此项为必填项。")},
        **options,
    )


def _text(value: Any) -> str:
    """A value as the form shows it: booleans the way Terraform writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
