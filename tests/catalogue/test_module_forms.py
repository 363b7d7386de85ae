"""The request form built from a module's variables: the fields it shows, what they give back, and the
module's own messages beside the right field, for every module and every rule."""

import json

import pytest
from django import forms

from catalogue.module_forms import BLANK_CHOICE, build_form_class
from catalogue.module_schema import PRIMITIVE_KINDS, TypeKind, Variable, parse_variables, validate_values
from tests.catalogue.test_module_schema import (
    GOOD_VALUES,
    MODULE_NAMES,
    bad_cases,
    mark,
    module_variables,
    variable_named,
)


def form_data(variables: list[Variable], values: dict) -> dict[str, str]:
    """The values as a browser would post them."""
    data = {}
    for variable in variables:
        if variable.name not in values:
            continue
        value = values[variable.name]
        element = variable.type.element
        if variable.type.kind is TypeKind.BOOL:
            if value:
                data[variable.name] = "on"
        elif variable.type.kind is TypeKind.LIST and element.kind in PRIMITIVE_KINDS:
            data[variable.name] = "\n".join(str(item) for item in value)
        elif isinstance(value, list | dict):
            data[variable.name] = json.dumps(value, ensure_ascii=False)
        else:
            data[variable.name] = str(value)
    return data


def submit(module: str, values: dict, translate=mark) -> forms.Form:
    variables = module_variables(module)
    form = build_form_class(variables, translate=translate)(data=form_data(variables, values))
    form.is_valid()
    return form


def form_for(source: str, data: dict | None = None) -> forms.Form:
    return build_form_class(parse_variables(source, module="test"), translate=mark)(data=data)


# Every module -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", MODULE_NAMES)
def test_good_values_give_the_typed_values_the_api_would(module):
    form = submit(module, GOOD_VALUES[module])

    assert form.errors == {}
    assert form.cleaned_data == validate_values(module_variables(module), GOOD_VALUES[module])[0]


@pytest.mark.parametrize("module", MODULE_NAMES)
def test_one_field_per_variable_in_order_with_translated_texts(module):
    variables = module_variables(module)

    fields = build_form_class(variables, translate=mark)().fields

    assert list(fields) == [variable.name for variable in variables]
    for variable in variables:
        assert fields[variable.name].label == mark(variable.label)
        assert fields[variable.name].help_text.startswith(mark(variable.description))


# A text input strips the line break a value might end with (the API test covers that value).
@pytest.mark.parametrize(
    ("module", "name", "number", "value"),
    [case for case in bad_cases() if not str(case.values[3]).endswith("\n")],
)
def test_bad_value_shows_its_rule_message_beside_its_field(module, name, number, value):
    rule = variable_named(module_variables(module), name).rules[number]

    form = submit(module, {**GOOD_VALUES[module], name: value})

    assert form.errors == {name: [mark(rule.error_message)]}


@pytest.mark.parametrize(
    ("module", "values"),
    [
        ("vm", {**GOOD_VALUES["vm"], "admin_password": "Sh0rt!pw"}),
        ("vm", {**GOOD_VALUES["vm"], "name": "Not Valid"}),
        ("database", {**GOOD_VALUES["database"], "admin_password": "Str0ng Passw0rd!"}),
        ("database", {**GOOD_VALUES["database"], "engine": "oracle"}),
    ],
)
def test_a_sensitive_value_comes_back_only_when_it_was_right(module, values):
    """A refused password is never written into the page; one that was right stays in the form when another
    field is wrong, so the person does not type it again."""
    form = submit(module, values)
    html = form.as_div()

    assert not form.is_valid()
    assert 'name="admin_password"' in html and 'type="password"' in html
    if "admin_password" in form.errors:
        assert values["admin_password"] not in html
    else:
        assert f'value="{values["admin_password"]}"' in html


# Fields -----------------------------------------------------------------------------------------------------


def test_fields_follow_the_variable_types():
    fields = build_form_class(module_variables("vm"))().fields
    database_fields = build_form_class(module_variables("database"))().fields
    network_fields = build_form_class(module_variables("network"))().fields

    assert fields["flavor"].choices == [
        ("small", "small"),
        ("medium", "medium"),
        ("large", "large"),
        ("xlarge", "xlarge"),
    ]
    assert fields["flavor"].initial == "small"
    assert database_fields["engine"].choices[0] == BLANK_CHOICE
    assert isinstance(build_form_class(module_variables("bucket"))().fields["versioning"], forms.BooleanField)
    assert isinstance(fields["admin_password"].widget, forms.PasswordInput)
    assert fields["admin_password"].widget.render_value is False
    assert isinstance(fields["allowed_ports"].widget, forms.Textarea)
    assert isinstance(network_fields["subnets"].widget, forms.Textarea)
    assert isinstance(fields["system_disk_gb"].widget, forms.NumberInput)
    assert [name for name, field in fields.items() if field.required] == ["name", "admin_password"]
    assert [name for name, field in database_fields.items() if field.required] == [
        "identifier",
        "engine",
        "admin_password",
    ]


def test_unbound_form_shows_defaults_and_marks_required_fields():
    html = build_form_class(module_variables("network"))().as_div()

    assert 'name="name" required' in html
    assert 'name="ingress_rules" cols="40" rows="6" aria-describedby' in html
    assert ">\n[]</textarea>" in html
    assert 'id="id_subnets">\n</textarea>' in html  # no default: empty, not "null"


@pytest.mark.parametrize(("text", "number"), [("40", 40), (" 41 ", 41), ("40.5", 40.5), ("4e1", 40)])
def test_number_field_gives_int_when_whole_else_float(text, number):
    form = form_for('variable "size" {\n  type = number\n}\n', {"size": text})

    assert form.is_valid()
    assert form.cleaned_data["size"] == number
    assert type(form.cleaned_data["size"]) is type(number)


def test_unreadable_number_gets_one_message():
    form = form_for('variable "size" {\n  type = number\n}\n', {"size": "forty"})

    assert form.errors == {"size": ["请输入数字。"]}


def test_empty_required_field_gets_the_portal_message():
    form = form_for(
        'variable "name" {\n  type = string\n}\nvariable "size" {\n  type = number\n}\n',
        {"name": "  ", "size": ""},
    )

    assert form.errors == {"name": ["此项为必填项。"], "size": ["此项为必填项。"]}


def test_empty_optional_fields_take_their_defaults():
    source = """
variable "name" {
  type    = string
  default = "n"
}
variable "version" {
  type    = string
  default = null
}
"""

    form = form_for(source, {"name": "", "version": ""})

    assert form.is_valid()
    assert form.cleaned_data == {"name": "n", "version": None}


def test_lines_field_reads_one_item_per_line():
    source = """
variable "ports" {
  type = list(number)
}
variable "names" {
  type    = set(string)
  default = ["a"]
}
"""

    form = form_for(source, {"ports": "22\n\n 443 \n", "names": ""})

    assert form.is_valid()
    assert form.cleaned_data == {"ports": [22, 443], "names": []}
    assert form_for(source, {"ports": "22\nssh", "names": "a"}).errors == {"ports": ["第 2 行：请输入数字。"]}
    emptied = form_for(source, {"ports": "", "names": "a"})
    assert emptied.is_valid() and emptied.cleaned_data == {"ports": [], "names": ["a"]}
    assert form_for(source, {"names": "a"}).errors == {"ports": ["此项为必填项。"]}


def test_lines_field_shows_its_default_one_per_line():
    html = build_form_class(module_variables("vm"))().as_div()

    assert 'id="id_allowed_cidrs">\n10.0.0.0/8</textarea>' in html


def test_invalid_json_says_where():
    form = form_for('variable "tags" {\n  type = map(string)\n}\n', {"tags": '{\n  "a": "b",\n}'})

    assert form.errors == {"tags": ["JSON 格式有误：请检查第 3 行第 1 列附近。"]}
    assert (
        "{\n  &quot;a&quot;: &quot;b&quot;,\n}</textarea>" in form.as_div()
    )  # the text comes back to be fixed


def test_json_shape_errors_name_the_place():
    form = submit("network", {**GOOD_VALUES["network"], "subnets": [{"name": "app", "cidr": "10.20.1.0/24"}]})

    assert form.errors == {"subnets": ["[0]：缺少属性 zone。"]}


def test_choice_outside_the_options_gets_the_rule_message_and_numbers_come_back_typed():
    source = """
variable "cpus" {
  type    = number
  default = 2
  validation {
    condition     = contains([1, 2, 4], var.cpus)
    error_message = "Choose 1, 2 or 4 CPUs."
  }
}
"""

    assert form_for(source, {"cpus": "3"}).errors == {"cpus": [mark("Choose 1, 2 or 4 CPUs.")]}
    form = form_for(source, {"cpus": "4"})
    assert form.is_valid() and form.cleaned_data == {"cpus": 4}


def test_optional_bool_with_null_default_can_stay_unset():
    form = form_for('variable "flag" {\n  type = bool\n  default = null\n}\n', {"flag": "unknown"})

    assert isinstance(form.fields["flag"], forms.NullBooleanField)
    assert form.is_valid() and form.cleaned_data == {"flag": None}


def test_sensitive_collections_and_booleans_are_never_written_back():
    source = """
variable "keys" {
  type      = map(string)
  sensitive = true
}
variable "secret_flag" {
  type      = bool
  sensitive = true
}
variable "name" {
  type = string
}
"""

    form = form_for(source, {"keys": '{"id": "AKIA-SECRET"}', "secret_flag": "true", "name": ""})

    assert form.errors == {"name": ["此项为必填项。"]}
    html = form.as_div()
    # What was just typed, and right, stays; nothing else of a secret is ever written (see the unbound form).
    assert "AKIA-SECRET" in html
    unbound = form_for(source).as_div()
    assert "AKIA-SECRET" not in unbound and 'value="true"' not in unbound
    valid = form_for(source, {"keys": '{"id": "k"}', "secret_flag": "true", "name": "n"})
    assert valid.is_valid() and valid.cleaned_data == {"keys": {"id": "k"}, "secret_flag": True, "name": "n"}
    assert form_for(source, {"keys": "{}", "secret_flag": "yes", "name": "n"}).errors == {
        "secret_flag": ["请输入 true 或 false。"],
    }


def test_sensitive_default_is_used_but_never_shown():
    source = 'variable "password" {\n  type = string\n  sensitive = true\n  default = "changeme-123"\n}\n'

    form = form_for(source, {})

    assert "changeme-123" not in form_for(source).as_div()
    assert form.is_valid() and form.cleaned_data == {"password": "changeme-123"}
