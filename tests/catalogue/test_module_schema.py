"""Reading variables.tf: every module in terraform/modules against a table of good and bad values (checked
against the portal, its JSON Schema and the real Terraform), and each parsing and validation behaviour on
small inline files."""

import json
import os
import pickle
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from jsonschema import Draft202012Validator

from catalogue.module_schema import (
    KEY,
    ModuleSchemaError,
    RuleKind,
    TypeKind,
    Variable,
    parse_variables,
    to_json_schema,
    validate_values,
)

MODULES_DIR = Path(__file__).resolve().parents[2] / "terraform" / "modules"
MODULE_NAMES = sorted(path.name for path in MODULES_DIR.iterdir() if path.is_dir())

PASSWORD = "Str0ng-Passw0rd!"

# Values every module accepts: all required variables and most optional ones, away from the defaults.
GOOD_VALUES = {
    "vm": {
        "name": "web-01",
        "flavor": "medium",
        "os_image": "uos-20",
        "zone": "cn-north-1b",
        "system_disk_gb": 80,
        "data_disk_gb": 200,
        "admin_password": PASSWORD,
        "allowed_ports": [22, 443],
        "allowed_cidrs": ["10.0.0.0/8", "192.168.1.0/24"],
        "tags": {"env": "prod", "owner": "省教育厅"},
    },
    "bucket": {
        "name": "edu-archive.2024",
        "versioning": False,
        "encryption": "aws:kms",
        "block_public_access": True,
        "force_destroy": True,
        "quota_gb": 500,
        "tags": {"project": "archive"},
    },
    "database": {
        "identifier": "grades-db",
        "engine": "postgres",
        "engine_version": "15.4",
        "instance_class": "db.m5.large",
        "storage_gb": 200,
        "admin_username": "grades_admin",
        "admin_password": PASSWORD,
        "backup_retention_days": 14,
        "multi_az": True,
        "tags": {"system": "grades"},
    },
    "network": {
        "name": "edu-net",
        "cidr_block": "10.20.0.0/16",
        "subnets": [
            {"name": "app", "cidr": "10.20.1.0/24", "zone": "cn-north-1a"},
            {"name": "db", "cidr": "10.20.2.0/24", "zone": "cn-north-1b"},
        ],
        "ingress_rules": [{"port": 443, "protocol": "tcp", "cidr": "0.0.0.0/0"}],
        "tags": {"env": "prod"},
    },
}

# Edge values that must pass too: (module, variable, value), each set on top of the module's good values.
BOUNDARY_VALUES = [
    ("vm", "name", "a" + "b" * 30),
    ("vm", "name", "web"),
    ("vm", "name", "web-0"),
    ("network", "name", "a-1"),
    ("vm", "system_disk_gb", 40),
    ("vm", "system_disk_gb", 500),
    ("vm", "data_disk_gb", 0),
    ("vm", "data_disk_gb", 4096),
    ("vm", "admin_password", "Aa1!" * 16),
    ("vm", "allowed_ports", []),
    ("vm", "allowed_ports", [1, 65535]),
    ("vm", "tags", {"k" * 128: "v" * 256, "name": ""}),
    ("bucket", "name", "a.b"),
    ("bucket", "name", "x" * 63),
    ("bucket", "quota_gb", 10240),
    ("database", "engine_version", "8"),
    ("database", "backup_retention_days", 0),
    ("database", "admin_username", "administrator"),
    ("network", "cidr_block", "192.168.0.0/28"),
    ("network", "cidr_block", "172.31.0.0/16"),
    ("network", "ingress_rules", []),
]

# (module, variable, rule number) -> values that break that rule and no other.
BAD_VALUES = {
    # A host name ends with a letter or digit: "web-" and "web-01-" are not valid host names.
    ("vm", "name", 0): ["Web-01", "web_01", "1web", "we", "web-01\n", "web-", "web-01-", "-web", "a" + "b" * 31],
    ("vm", "flavor", 0): ["huge", "Small"],
    ("vm", "os_image", 0): ["windows-2019"],
    ("vm", "zone", 0): ["north", "CN-NORTH-1A", "cn-north-1"],
    ("vm", "system_disk_gb", 0): [39, 501, 40.5],
    ("vm", "data_disk_gb", 0): [-1, 4097, 0.5],
    ("vm", "admin_password", 0): ["Sh0rt!pw", "Aa1!" * 16 + "x"],
    ("vm", "admin_password", 1): ["only-lowercase-letters", "NoDigitsHere!!", "N0Symb0lsHere12"],
    ("vm", "allowed_ports", 0): [list(range(1, 22))],
    ("vm", "allowed_ports", 1): [[22, 0], [65536], [22.5]],
    ("vm", "allowed_cidrs", 0): [[], [f"10.{i}.0.0/16" for i in range(11)]],
    ("vm", "allowed_cidrs", 1): [["10.0.0.0/33"], ["256.0.0.0/8"], ["10.0.0.0"]],
    ("vm", "tags", 0): [{f"key{i}": "v" for i in range(21)}],
    ("vm", "tags", 1): [{"k" * 129: "v"}, {"k": "v" * 257}, {"": "empty key"}],
    ("vm", "tags", 2): [{"Name": "web-01"}],
    ("bucket", "name", 0): ["ab", "a" * 64],
    ("bucket", "name", 1): ["-archive", "Archive", "archive_2024", "archive-"],
    ("bucket", "name", 2): ["192.168.1.10", "edu..archive"],
    ("bucket", "encryption", 0): ["DES", "aes256"],
    ("bucket", "quota_gb", 0): [0, 10241, 1.5],
    ("bucket", "tags", 0): [{f"key{i}": "v" for i in range(21)}],
    ("bucket", "tags", 1): [{"k" * 129: "v"}],
    ("database", "identifier", 0): ["a" * 64],
    ("database", "identifier", 1): ["grades--db", "grades-", "1grades", "Grades"],
    ("database", "engine", 0): ["oracle", "PostgreSQL"],
    ("database", "engine_version", 0): ["latest", "8.0.x", "1.2.3.4"],
    ("database", "instance_class", 0): ["db.r5.large"],
    ("database", "storage_gb", 0): [19, 4097, 20.5],
    ("database", "admin_username", 0): ["Admin1", "_dba", "a" * 17],
    ("database", "admin_username", 1): ["admin", "root", "postgres"],
    ("database", "admin_password", 0): ["Sh0rt!pw"],
    ("database", "admin_password", 1): ["only-lowercase-letters"],
    ("database", "admin_password", 2): [
        "Str0ng Passw0rd!",
        "Str0ng/Passw0rd!",
        'Str0ng"Passw0rd',
        "Str0ng@Passw0rd",
    ],
    ("database", "backup_retention_days", 0): [-1, 36, 7.5],
    ("database", "tags", 0): [{f"key{i}": "v" for i in range(21)}],
    ("database", "tags", 1): [{"k": "v" * 257}],
    ("network", "name", 0): ["Edu-net", "n", "edu-net-"],
    ("network", "cidr_block", 0): ["10.20.0.0/8", "10.20.0.0/29", "10.20.0/16", "10.300.0.0/16"],
    ("network", "cidr_block", 1): ["8.8.0.0/16", "172.32.0.0/16", "192.169.0.0/16"],
    ("network", "subnets", 0): [
        [],
        [{"name": f"s{i}", "cidr": f"10.20.{i}.0/24", "zone": "cn-north-1a"} for i in range(9)],
    ],
    ("network", "subnets", 1): [[{"name": "App", "cidr": "10.20.1.0/24", "zone": "cn-north-1a"}]],
    ("network", "subnets", 2): [[{"name": "app", "cidr": "10.20.1.0/29", "zone": "cn-north-1a"}]],
    ("network", "subnets", 3): [[{"name": "app", "cidr": "10.20.1.0/24", "zone": "north"}]],
    ("network", "ingress_rules", 0): [[{"port": 443, "protocol": "tcp", "cidr": "0.0.0.0/0"}] * 51],
    ("network", "ingress_rules", 1): [
        [{"port": 0, "protocol": "tcp", "cidr": "0.0.0.0/0"}],
        [{"port": 80.5, "protocol": "tcp", "cidr": "0.0.0.0/0"}],
    ],
    ("network", "ingress_rules", 2): [[{"port": 443, "protocol": "icmp", "cidr": "0.0.0.0/0"}]],
    ("network", "ingress_rules", 3): [[{"port": 443, "protocol": "tcp", "cidr": "any"}]],
    ("network", "tags", 0): [{f"key{i}": "v" for i in range(21)}],
    ("network", "tags", 1): [{"": "v"}],
}

# Rules the portal cannot evaluate: (module, variable, rule number) -> a value only Terraform refuses.
LEFT_TO_TERRAFORM = {
    ("network", "subnets", 4): [
        {"name": "app", "cidr": "10.20.1.0/24", "zone": "cn-north-1a"},
        {"name": "app", "cidr": "10.20.2.0/24", "zone": "cn-north-1b"},
    ],
}


def mark(text: str) -> str:
    """A stand-in translation, so tests see that module messages go through translate."""
    return f"«{text}»"


def module_variables(module: str) -> list[Variable]:
    return parse_variables((MODULES_DIR / module / "variables.tf").read_text(encoding="utf-8"), module=module)


def variable_named(variables: list[Variable], name: str) -> Variable:
    return next(variable for variable in variables if variable.name == name)


def bad_cases() -> list:
    return [
        pytest.param(module, name, number, value, id=f"{module}.{name}[{number}]#{index}")
        for (module, name, number), values in BAD_VALUES.items()
        for index, value in enumerate(values)
    ]


def boundary_cases() -> list:
    return [
        pytest.param(module, name, value, id=f"{module}.{name}={value!r:.30}")
        for module, name, value in BOUNDARY_VALUES
    ]


def parse(source: str) -> list[Variable]:
    return parse_variables(source, module="test")


def one(source: str) -> Variable:
    [variable] = parse(source)
    return variable


def rule_variable(type_: str, condition: str, extra: str = "") -> Variable:
    return one(f"""
variable "x" {{
  type = {type_}
  {extra}
  validation {{
    condition     = {condition}
    error_message = "Broken."
  }}
}}
""")


def accepts(variable: Variable, value) -> bool:
    cleaned, errors = validate_values([variable], {"x": value})
    return not errors


# The modules ------------------------------------------------------------------------------------------------


def test_the_tables_cover_every_module_and_every_rule():
    rules = {
        (module, variable.name, number): rule
        for module in MODULE_NAMES
        for variable in module_variables(module)
        for number, rule in enumerate(variable.rules)
    }
    unsupported = {key for key, rule in rules.items() if rule.kind is RuleKind.UNSUPPORTED}

    assert set(GOOD_VALUES) == set(MODULE_NAMES)
    assert set(BAD_VALUES) == set(rules) - unsupported
    assert set(LEFT_TO_TERRAFORM) == unsupported


@pytest.mark.parametrize("module", MODULE_NAMES)
def test_module_parses_into_documented_variables(module):
    variables = module_variables(module)

    assert variables
    assert all(variable.description for variable in variables)
    assert all(variable.line for variable in variables)
    assert len({variable.name for variable in variables}) == len(variables)


@pytest.mark.parametrize("module", MODULE_NAMES)
def test_module_json_schema_is_valid_and_describes_the_good_values(module):
    variables = module_variables(module)
    schema = to_json_schema(variables)

    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema).validate(GOOD_VALUES[module])
    assert schema["required"] == [variable.name for variable in variables if variable.required]
    for variable in variables:
        if variable.sensitive:
            assert schema["properties"][variable.name]["writeOnly"] is True
            assert "default" not in schema["properties"][variable.name]


@pytest.mark.parametrize("module", MODULE_NAMES)
def test_good_values_pass_typed_with_defaults_filled(module):
    variables = module_variables(module)

    cleaned, errors = validate_values(variables, GOOD_VALUES[module])

    assert errors == {}
    defaults = {variable.name: variable.default for variable in variables if not variable.required}
    assert cleaned == {**defaults, **GOOD_VALUES[module]}


@pytest.mark.parametrize(("module", "name", "value"), boundary_cases())
def test_boundary_value_passes(module, name, value):
    variables = module_variables(module)

    cleaned, errors = validate_values(variables, {**GOOD_VALUES[module], name: value})

    assert errors == {}
    Draft202012Validator(to_json_schema(variables)).validate({**GOOD_VALUES[module], name: value})


@pytest.mark.parametrize(("module", "name", "number", "value"), bad_cases())
def test_bad_value_fails_exactly_its_rule(module, name, number, value):
    variables = module_variables(module)
    rule = variable_named(variables, name).rules[number]

    cleaned, errors = validate_values(variables, {**GOOD_VALUES[module], name: value}, translate=mark)

    assert errors == {name: [mark(rule.error_message)]}
    assert name not in cleaned


# The jsonschema package runs "pattern" with Python's re, whose $ also matches before a final newline; in
# ECMA-262 (JSON Schema's regex dialect) and RE2 it does not, so such values cannot be checked with it here.
@pytest.mark.parametrize(
    ("module", "name", "number", "value"),
    [case for case in bad_cases() if not str(case.values[3]).endswith("\n")],
)
def test_json_schema_rejects_the_bad_value(module, name, number, value):
    schema = to_json_schema(module_variables(module))

    assert not Draft202012Validator(schema).is_valid({**GOOD_VALUES[module], name: value})


@pytest.mark.parametrize(("module", "name", "number"), list(LEFT_TO_TERRAFORM))
def test_unsupported_rule_is_left_to_terraform(module, name, number):
    variables = module_variables(module)
    value = LEFT_TO_TERRAFORM[(module, name, number)]

    cleaned, errors = validate_values(variables, {**GOOD_VALUES[module], name: value})

    assert errors == {}
    assert cleaned[name] == value


def terraform_failures(module: str, cases: dict[str, dict], workdir: Path) -> dict[str, set[int]]:
    """Plan a root module calling the module once per case; by case, the validation lines Terraform names."""
    (workdir / "module").mkdir()
    shutil.copy(MODULES_DIR / module / "variables.tf", workdir / "module" / "variables.tf")
    calls = {case: {"source": "./module", **values} for case, values in cases.items()}
    (workdir / "main.tf.json").write_text(json.dumps({"module": calls}), encoding="utf-8")
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
    }

    def terraform(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [settings.TERRAFORM_BIN, *args, "-input=false", "-no-color"],
            cwd=workdir,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    initialised = terraform("init")
    assert initialised.returncode == 0, initialised.stdout + initialised.stderr
    output = terraform("plan").stderr
    failures: dict[str, set[int]] = {case: set() for case in cases}
    for report in output.split("Error: ")[1:]:
        found = re.search(r"in module\.(\w+):.*?variables\.tf:(\d+),", report, re.DOTALL)
        assert found, f"Terraform failed for another reason:\n{report}"
        failures[found[1]].add(int(found[2]))
    return failures


@pytest.mark.parametrize("module", MODULE_NAMES)
def test_terraform_agrees_with_the_tables(module, tmp_path):
    """The real Terraform refuses exactly the values the portal refuses, plus those left to it."""
    variables = module_variables(module)
    good = GOOD_VALUES[module]
    cases = {"good": good}
    expected: dict[str, set[int]] = {"good": set()}
    for index, (case_module, name, value) in enumerate(BOUNDARY_VALUES):
        if case_module == module:
            cases[f"boundary_{index}"] = {**good, name: value}
            expected[f"boundary_{index}"] = set()
    for table in (BAD_VALUES, LEFT_TO_TERRAFORM):
        for (case_module, name, number), values in table.items():
            if case_module != module:
                continue
            line = variable_named(variables, name).rules[number].line
            for value in values if table is BAD_VALUES else [values]:
                case = f"case_{len(cases)}"
                cases[case] = {**good, name: value}
                expected[case] = {line}

    assert terraform_failures(module, cases, tmp_path) == expected


# Parsing ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ('variable "x" {\n  type = string\n  default = \n}\n', 3),
        ('variable "x" {\n  type = string\n', 3),
        ('variable "x" {\n  type = string\n  default = @\n}\n', 3),
        ('\n\nvariable "x" {\n  description = "unterminated\n}\n', 4),
    ],
)
def test_unparsable_hcl_names_module_file_and_line(source, line):
    with pytest.raises(ModuleSchemaError) as caught:
        parse_variables(source, module="vm", filename="variables.tf")

    error = caught.value
    assert (error.module, error.filename, error.line) == ("vm", "variables.tf", line)
    assert "vm" in str(error) and "variables.tf" in str(error) and f"第 {line} 行" in str(error)
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


@pytest.mark.parametrize(
    ("source", "line", "text"),
    [
        ('variable "x" {\n  type = strin\n}\n', 2, "strin"),
        ('variable "x" {\n  type = "string"\n}\n', 2, '"string"'),
        ('variable "x" {\n  type = list(string)\n  default = ["a", ["b"]]\n}\n', 3, "list(string)"),
        ('variable "x" {\n  type = number\n  default = "many"\n}\n', 3, "number"),
        ('variable "x" {\n  type = object({a = string})\n  default = {b = "x"}\n}\n', 3, "b"),
        ('variable "x" {\n  type = string\n  default = "\\d"\n}\n', 3, "\\d"),
        ('variable "x" {\n  type = string\n  default = var.y\n}\n', 3, "default"),
        ('variable "x" {\n  typo = string\n}\n', 2, "typo"),
        ('variable "x" {\n}\nvariable "x" {\n}\n', 3, "x"),
        ('variable "x" {\n  type = string\n  nullable = false\n  default = null\n}\n', 4, "nullable"),
        ('variable "x" {\n  validation {\n    condition = var.x != ""\n  }\n}\n', 2, "error_message"),
    ],
)
def test_module_mistakes_name_their_line(source, line, text):
    with pytest.raises(ModuleSchemaError) as caught:
        parse(source)

    assert caught.value.line == line
    assert text in caught.value.message


@pytest.mark.parametrize(
    ("condition", "message", "line", "text"),
    [
        ("length(var.x) > 0", "broken.", 5, "error_message"),
        ("length(var.x) > 0", "Broken", 5, "error_message"),
        ("length(var.y) > 0", "Broken.", 4, "var.x"),
        ("length(var.x) > length(var.y)", "Broken.", 4, "var.x"),
        ("true", "Broken.", 4, "var.x"),
        ('can(regex("^(?=a)", var.x))', "Broken.", 4, "RE2"),
        ('can(regex("(a)\\\\1", var.x))', "Broken.", 4, "RE2"),
        ('can(regex("^a\\\\Z", var.x))', "Broken.", 4, "RE2"),
    ],
)
def test_validation_blocks_terraform_refuses_are_refused(condition, message, line, text):
    source = f"""variable "x" {{
  type = string
  validation {{
    condition     = {condition}
    error_message = "{message}"
  }}
}}
"""

    with pytest.raises(ModuleSchemaError) as caught:
        parse(source)

    assert (caught.value.line, text in caught.value.message) == (line, True)


def test_default_that_fails_its_own_rule_is_refused():
    with pytest.raises(ModuleSchemaError) as caught:
        rule_variable("number", "var.x >= 1", "default = 0")

    assert caught.value.line == 5
    assert "Broken." in caught.value.message


def test_null_default_with_an_unguarded_rule_is_refused_as_terraform_would_fail_it():
    # Terraform evaluates both sides of ||: length(null) is an error even behind the null test.
    with pytest.raises(ModuleSchemaError):
        rule_variable("string", "var.x == null || length(var.x) >= 3", "default = null")


def test_variable_attributes_are_read():
    variables = parse("""
variable "password" {
  description = "Secret."
  type        = string
  sensitive   = true
}

# A comment between blocks.
variable "size" {
  type     = number
  default  = -1.5
  nullable = false
}

variable "anything" {}

locals {
  ignored = true
}
""")

    password, size, anything = variables
    assert password.type.kind is TypeKind.STRING and password.description == "Secret."
    assert password.sensitive and password.required and password.line == 2
    assert (size.default, size.required, size.nullable, size.sensitive, size.line) == (
        -1.5,
        False,
        False,
        False,
        9,
    )
    assert anything.type.kind is TypeKind.ANY and anything.required
    assert password.label == "Password"


def test_type_expressions_become_a_tree():
    variable = one("""
variable "x" {
  type = map(list(object({ name = string, ports = set(number), pair = tuple([string, bool]) })))
}
""")

    assert (
        str(variable.type)
        == "map(list(object({name = string, ports = set(number), pair = tuple([string, bool])})))"
    )
    element = variable.type.element.element
    assert element.kind is TypeKind.OBJECT
    assert [name for name, _type in element.attributes] == ["name", "ports", "pair"]
    assert element.attribute("ports").element.kind is TypeKind.NUMBER


def test_defaults_are_converted_to_their_type():
    number_text, number_list, flag_text = parse("""
variable "a" {
  type    = string
  default = 5
}
variable "b" {
  type    = set(number)
  default = ["1", 2, 2]
}
variable "c" {
  type    = bool
  default = "true"
}
""")

    assert (number_text.default, number_list.default, flag_text.default) == ("5", [1, 2], True)


def test_strings_are_unescaped_and_heredocs_read():
    variable = one(r"""
variable "x" {
  description = <<-EOT
    First line, "quoted".
      Indented, with $${literal}.
    EOT
  default = "tab\tquote\" unicode\u00e9 $${literal}"
}
""")

    assert variable.description == 'First line, "quoted".\n  Indented, with ${literal}.\n'
    assert variable.default == 'tab\tquote" unicode\u00e9 ${literal}'


# Conditions -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "condition", "kind", "good", "bad"),
    [
        ("string", 'contains(["a", "b"], var.x)', RuleKind.CHOICES, ["a", "b"], ["c", "A"]),
        ("number", "contains([1, 2, 4], var.x)", RuleKind.CHOICES, [1, 4.0, "2"], [3, "8"]),
        ("string", '!contains(["admin", "root"], var.x)', RuleKind.NOT, ["dba"], ["admin", "root"]),
        ("string", 'can(regex("[0-9]", var.x))', RuleKind.PATTERN, ["a1b", "9"], ["abc"]),
        ("string", 'can(regex("^[a-z]+$", var.x))', RuleKind.PATTERN, ["abc"], ["abc\n", "aBc", ""]),
        ("string", 'can(regex("^\\\\d+\\\\z", var.x))', RuleKind.PATTERN, ["123"], ["12a", "١٢"]),
        (
            "string",
            'can(regex("^[[:upper:]][[:alnum:]_]*$", var.x))',
            RuleKind.PATTERN,
            ["Ab_1"],
            ["ab", "Ä"],
        ),
        ("string", 'can(regex("(?i)^abc$", var.x))', RuleKind.PATTERN, ["ABC", "abc"], ["abd"]),
        ("number", "var.x >= 1 && var.x <= 10", RuleKind.RANGE, [1, 10, 5.5, "7"], [0, 10.5, 11]),
        ("number", "var.x > 0 && var.x < 1", RuleKind.RANGE, [0.5], [0, 1]),
        ("number", "10 >= var.x", RuleKind.RANGE, [10, -3], [11]),
        ("number", "floor(var.x) == var.x", RuleKind.INTEGER, [3, 3.0, "-2"], [2.5]),
        ("number", "var.x == 3", RuleKind.EQUALS, [3], [4]),
        ("string", 'var.x != "none"', RuleKind.NOT, ["some"], ["none"]),
        (
            "string",
            "length(var.x) >= 2 && length(var.x) <= 4",
            RuleKind.LENGTH,
            ["ab", "汉字"],
            ["a", "abcde"],
        ),
        ("list(string)", "length(var.x) > 0", RuleKind.LENGTH, [["a"]], [[]]),
        ("map(string)", "length(var.x) < 2", RuleKind.LENGTH, [{}, {"a": "b"}], [{"a": "b", "c": "d"}]),
        ("set(string)", "length(var.x) == 2", RuleKind.LENGTH, [["a", "b"], ["a", "b", "a"]], [["a"]]),
        (
            "list(number)",
            "alltrue([for n in var.x : n >= 1 && n <= 9])",
            RuleKind.EACH,
            [[], [1, 9]],
            [[0], [1, 10]],
        ),
        (
            "map(number)",
            "alltrue([for k, v in var.x : length(k) <= 3 && v > 0])",
            RuleKind.EACH,
            [{"abc": 1}],
            [{"abcd": 1}, {"a": 0}],
        ),
        (
            "list(object({ port = number }))",
            "alltrue([for r in var.x : r.port != 22])",
            RuleKind.EACH,
            [[{"port": 80}]],
            [[{"port": 80}, {"port": 22}]],
        ),
        ("object({ size = number })", "var.x.size <= 4", RuleKind.RANGE, [{"size": 4}], [{"size": 5}]),
        ("string", 'var.x == "" || can(regex("^[a-z]+$", var.x))', RuleKind.ANY, ["", "abc"], ["ab1"]),
        (
            "string",
            '(length(var.x) == 1 || length(var.x) == 3) && !can(regex("x", var.x))',
            RuleKind.ALL,
            ["a", "abc"],
            ["ab", "x", "axc"],
        ),
    ],
)
def test_condition_is_recognised_and_enforced(type_, condition, kind, good, bad):
    variable = rule_variable(type_, condition)

    assert variable.rules[0].kind is kind
    assert variable.rules[0].condition == condition
    assert [value for value in good if not accepts(variable, value)] == []
    assert [value for value in bad if accepts(variable, value)] == []


def test_bounds_on_one_subject_fold_into_one_rule():
    variable = rule_variable("string", "length(var.x) > 2 && length(var.x) < 9")

    [rule] = variable.rules
    assert (rule.kind, rule.parameters) == (RuleKind.LENGTH, {"minimum": 3, "maximum": 8})


def test_each_rule_keeps_key_and_attribute_paths():
    variable = rule_variable(
        "map(object({ cidr = string }))", 'alltrue([for k, v in var.x : k != "" && can(regex("/", v.cidr))])'
    )

    [each] = variable.rules
    not_empty, pattern = each.parameters["rule"].parameters["rules"]
    assert not_empty.parameters["rule"].path == (KEY,)
    assert pattern.path == ("cidr",)


def test_choices_come_from_contains_even_behind_a_null_guard():
    guarded = rule_variable("string", 'var.x == null || contains(["a", "b"], var.x)', 'default = "a"')
    combined = rule_variable("string", 'contains(["a", "b", "c"], var.x) && var.x != "c"')

    assert guarded.choices == ("a", "b")
    assert accepts(guarded, "b") and not accepts(guarded, "c")
    assert combined.choices == ("a", "b", "c")


def test_contains_refuses_null_like_terraform():
    # contains() with a null value is an error in Terraform, so even the negation does not let null through.
    variable = rule_variable("string", '!contains(["b"], var.x)', 'default = "a"')

    assert validate_values([variable], {}) == ({"x": "a"}, {})
    with pytest.raises(ModuleSchemaError):
        rule_variable("string", '!contains(["b"], var.x)', "default = null")


@pytest.mark.parametrize(
    ("type_", "condition"),
    [
        ("string", "can(cidrhost(var.x, 0))"),
        ("string", 'can(regex("^\\\\pL+$", var.x))'),
        ("string", 'can(regex("(?m)^a$", var.x))'),
        ("string", "length(var.x) > 0 && can(cidrhost(var.x, 0))"),
        ("string", "var.x >= 3"),
        ("number", 'can(regex("1", var.x))'),
        ("list(string)", 'anytrue([for s in var.x : s == "a"])'),
        ("list(string)", 'alltrue([for s in var.x : s == "a" if s != ""])'),
        ("set(string)", 'alltrue([for k, v in var.x : v == "a"])'),
        ("number", "var.x % 2 == 0"),
    ],
)
def test_condition_beyond_the_portal_is_left_to_terraform(type_, condition):
    variable = rule_variable(type_, condition)

    assert variable.rules[0].kind is RuleKind.UNSUPPORTED
    assert variable.rules[0].error_message == "Broken."
    schema = to_json_schema([variable])["properties"]["x"]
    assert set(schema) <= {"title", "type", "items", "uniqueItems"}


def test_unsupported_rule_is_skipped_by_validation():
    variable = rule_variable("string", "can(cidrhost(var.x, 0))")

    assert validate_values([variable], {"x": "not a cidr"}) == ({"x": "not a cidr"}, {})


# Values -----------------------------------------------------------------------------------------------------


def coercion_variables() -> list[Variable]:
    return parse("""
variable "text" { type = string }
variable "count" { type = number }
variable "flag" { type = bool }
variable "ports" { type = list(number) }
variable "labels" { type = map(string) }
variable "subnet" { type = object({ name = string, size = number }) }
""")


def test_form_strings_are_converted_to_the_types():
    values = {
        "text": "abc",
        "count": "42",
        "flag": "false",
        "ports": ["22", "443"],
        "labels": {"a": "1"},
        "subnet": {"name": "app", "size": "24"},
    }

    cleaned, errors = validate_values(coercion_variables(), values)

    assert errors == {}
    assert cleaned == {
        "text": "abc",
        "count": 42,
        "flag": False,
        "ports": [22, 443],
        "labels": {"a": "1"},
        "subnet": {"name": "app", "size": 24},
    }
    assert type(cleaned["count"]) is int


@pytest.mark.parametrize(
    ("value", "converted"),
    [("1.5", 1.5), ("-3", -3), ("2e3", 2000), (7.0, 7), (0.25, 0.25), ("0.10", 0.1)],
)
def test_numbers_are_int_when_whole(value, converted):
    cleaned, errors = validate_values(coercion_variables()[1:2], {"count": value})

    assert cleaned["count"] == converted
    assert type(cleaned["count"]) is type(converted)


def test_json_numbers_and_booleans_become_strings_as_in_terraform():
    cleaned, errors = validate_values(coercion_variables()[:1], {"text": 5})

    assert cleaned == {"text": "5"}
    assert validate_values(coercion_variables()[:1], {"text": True})[0] == {"text": "true"}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("count", "forty", "请输入数字。"),
        ("count", "1_000", "请输入数字。"),
        ("count", "1e999", "请输入数字。"),
        ("count", True, "请输入数字。"),
        ("count", float("nan"), "请输入数字。"),
        ("flag", "yes", "请输入 true 或 false。"),
        ("flag", 1, "请输入 true 或 false。"),
        ("text", ["a"], "请输入文本。"),
        ("ports", "22", "请输入列表。"),
        ("ports", ["22", "ssh"], "[1]：请输入数字。"),
        ("ports", [22, None], "[1]：此项为必填项。"),
        ("labels", ["a"], "请输入对象。"),
        ("labels", {"a": {"b": 1}}, '["a"]：请输入文本。'),
        ("subnet", {"name": "app"}, "缺少属性 size。"),
        ("subnet", {"name": "app", "size": 24, "zone": "a"}, "未知属性 zone。"),
        ("subnet", {"name": "app", "size": "big"}, "size：请输入数字。"),
    ],
)
def test_wrong_types_are_reported_where_they_are(name, value, message):
    variables = [variable for variable in coercion_variables() if variable.name == name]

    cleaned, errors = validate_values(variables, {name: value})

    assert errors == {name: [message]}
    assert cleaned == {}


def test_required_missing_and_null_are_the_same():
    variables = coercion_variables()[:2]

    assert validate_values(variables, {"count": None})[1] == {
        "text": ["此项为必填项。"],
        "count": ["此项为必填项。"],
    }


def test_unknown_names_are_rejected():
    cleaned, errors = validate_values(coercion_variables()[:1], {"text": "a", "txet": "b"})

    assert errors == {"txet": ["该服务没有这个参数。"]}
    assert cleaned == {"text": "a"}


def test_defaults_are_filled_and_never_shared():
    [tags] = parse('variable "tags" {\n  type = map(string)\n  default = {team = "ops"}\n}\n')

    cleaned, errors = validate_values([tags], {})
    cleaned["tags"]["team"] = "changed"

    assert errors == {}
    assert tags.default == {"team": "ops"}
    assert validate_values([tags], {"tags": None})[0] == {"tags": {"team": "ops"}}


def test_sets_drop_repeated_elements():
    [names] = parse('variable "names" {\n  type = set(string)\n}\n')

    assert validate_values([names], {"names": ["a", "b", "a"]})[0] == {"names": ["a", "b"]}


def test_each_failing_rule_reports_its_own_message_once():
    [variable] = parse("""
variable "x" {
  type = string
  validation {
    condition     = length(var.x) >= 3
    error_message = "Too short."
  }
  validation {
    condition     = can(regex("^[a-z]+$", var.x))
    error_message = "Lowercase only."
  }
  validation {
    condition     = length(var.x) >= 2
    error_message = "Too short."
  }
}
""")

    assert validate_values([variable], {"x": "A"}, translate=mark)[1] == {
        "x": [mark("Too short."), mark("Lowercase only.")]
    }


# JSON Schema ------------------------------------------------------------------------------------------------


def test_json_schema_describes_types_rules_and_secrets():
    variables = parse("""
variable "name" {
  type        = string
  description = "The name."
  validation {
    condition     = can(regex("^[a-z]+$", var.name)) && length(var.name) <= 8
    error_message = "Bad name."
  }
}
variable "size" {
  type    = string
  default = "s"
  validation {
    condition     = contains(["s", "m"], var.size)
    error_message = "Bad size."
  }
}
variable "password" {
  type      = string
  sensitive = true
  default   = "changeme-please"
}
variable "version" {
  type    = string
  default = null
}
variable "pair" {
  type    = tuple([string, number])
  default = ["a", 1]
}
variable "zones" {
  type    = set(string)
  default = []
}
""")

    schema = to_json_schema(variables, translate=mark)

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["name"] and schema["additionalProperties"] is False
    properties = schema["properties"]
    assert properties["name"] == {
        "title": mark("Name"),
        "description": mark("The name."),
        "type": "string",
        "pattern": "^[a-z]+$",
        "maxLength": 8,
    }
    assert properties["size"] == {"title": mark("Size"), "default": "s", "type": "string", "enum": ["s", "m"]}
    assert properties["password"] == {
        "title": mark("Password"),
        "writeOnly": True,
        "format": "password",
        "type": "string",
    }
    assert properties["version"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert properties["pair"]["prefixItems"] == [{"type": "string"}, {"type": "number"}]
    assert properties["zones"]["uniqueItems"] is True
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"name": "abc", "version": None, "pair": ["b", 2]})
    assert not validator.is_valid({"name": "abc", "pair": ["b", 2, 3]})
    assert not validator.is_valid({"name": "abc", "surname": "x"})


def test_json_schema_puts_element_rules_where_they_apply():
    [variable] = parse("""
variable "rules" {
  type = map(object({ port = number }))
  validation {
    condition     = alltrue([for key, rule in var.rules : can(regex("^[a-z]+$", key)) && rule.port >= 1])
    error_message = "Bad rule."
  }
}
""")

    schema = to_json_schema([variable])["properties"]["rules"]

    assert schema["propertyNames"] == {"pattern": "^[a-z]+$"}
    assert schema["additionalProperties"]["properties"]["port"] == {"type": "number", "minimum": 1}
