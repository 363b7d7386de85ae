"""A Terraform module's input variables, read from its variables.tf: the single source of the request form,
the API's JSON Schema and the server-side validation of what requesters submit.

`parse_variables` reads the HCL with python-hcl2 (its raw Lark tree, which keeps line numbers and the exact
shape of every expression) and returns one `Variable` per `variable` block. Each `validation` block becomes
a `Rule`. The portal understands the conditions modules usually write and evaluates them exactly as
Terraform 1.0 would; anything else becomes a rule of kind "unsupported", which the portal skips and
Terraform still enforces when it plans. Recognised conditions, alone or combined with `&&`, `||` and `!`:

    contains(["a", "b"], var.x)                    one of the listed values (gives the form its choices)
    can(regex("pattern", var.x))                   RE2 pattern, matching a substring unless anchored
    var.x >= 1, var.x < 10, 1 <= var.x             numeric bounds
    var.x == "a", var.x != 0                       equality with a literal
    length(var.x) <= 20                            length of a string, list, set, tuple, map or object
    floor(var.x) == var.x                          a whole number
    var.x == null                                  the usual guard of an optional input
    alltrue([for v in var.x : ...])                every element (or `for k, v`: every key and value)
    s.attribute, var.x.attribute                   an attribute of an object, in any of the above

Like Terraform 1.0, `&&` and `||` do not short-circuit: a check that cannot be evaluated (length(null),
a comparison with a string) makes the whole condition fail. String lengths count code points, where
Terraform counts grapheme clusters; the two differ only for combining sequences.

`validate_values` converts submitted values to the variables' types with Terraform's own conversions
(numbers and booleans from their text, so form strings and JSON both work), fills defaults, rejects unknown
names, and applies the rules. A null value counts as not given. The portal is stricter than Terraform in
two places: an object may not carry attributes its type does not declare, and null is refused inside
collections and objects.

The portal's own messages are Chinese gettext msgids; a rule's message is the module's English
error_message, passed through the caller's `translate` (see module_i18n).
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from typing import Any

import hcl2
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# A path step standing for the key of the element an `alltrue([for k, v in ...])` is looking at.
KEY = "[key]"


def _untranslated(text: str) -> str:
    return text


class ModuleSchemaError(Exception):
    """variables.tf cannot become a form: unparsable HCL, an unknown type, a default that breaks its type…"""

    def __init__(self, message: str, module: str, filename: str, line: int | None) -> None:
        # All in args, so the error pickles (a Celery worker can hand it back).
        super().__init__(message, module, filename, line)
        self.message = message
        self.module = module
        self.filename = filename
        self.line = line

    def __str__(self) -> str:
        if self.line is None:
            return _("模块 %(module)s，%(filename)s：%(message)s") % {
                "module": self.module,
                "filename": self.filename,
                "message": self.message,
            }
        return _("模块 %(module)s，%(filename)s，第 %(line)d 行：%(message)s") % {
            "module": self.module,
            "filename": self.filename,
            "line": self.line,
            "message": self.message,
        }


class _Problem(Exception):
    """A ModuleSchemaError before it knows its module and file."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


# Types ------------------------------------------------------------------------------------------------------


class TypeKind(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOL = "bool"
    ANY = "any"
    LIST = "list"
    SET = "set"
    MAP = "map"
    OBJECT = "object"
    TUPLE = "tuple"


PRIMITIVE_KINDS = frozenset({TypeKind.STRING, TypeKind.NUMBER, TypeKind.BOOL})
COLLECTION_KINDS = frozenset({TypeKind.LIST, TypeKind.SET, TypeKind.MAP})


@dataclass(frozen=True)
class VariableType:
    """A Terraform type constraint: `element` for list, set and map; `attributes` for object (in declared
    order); `elements` for tuple."""

    kind: TypeKind
    element: VariableType | None = None
    attributes: tuple[tuple[str, VariableType], ...] = ()
    elements: tuple[VariableType, ...] = ()

    def __str__(self) -> str:
        if self.kind in COLLECTION_KINDS:
            return f"{self.kind}({self.element})"
        if self.kind is TypeKind.OBJECT:
            return "object({" + ", ".join(f"{name} = {type_}" for name, type_ in self.attributes) + "})"
        if self.kind is TypeKind.TUPLE:
            return "tuple([" + ", ".join(str(type_) for type_ in self.elements) + "])"
        return str(self.kind)

    def attribute(self, name: str) -> VariableType | None:
        return dict(self.attributes).get(name)


ANY = VariableType(TypeKind.ANY)
STRING = VariableType(TypeKind.STRING)
NUMBER = VariableType(TypeKind.NUMBER)


# Rules and variables ----------------------------------------------------------------------------------------


class RuleKind(StrEnum):
    CHOICES = "choices"  # {"choices": (value, …)}: contains(), which refuses null
    EQUALS = "equals"  # {"value": value}: ==, for which null is simply not equal
    PATTERN = "pattern"  # {"pattern": RE2 source}
    RANGE = "range"  # any of {"minimum", "maximum", "exclusive_minimum", "exclusive_maximum"}
    LENGTH = "length"  # any of {"minimum", "maximum"}, inclusive
    INTEGER = "integer"  # {}
    NULL = "null"  # {}
    ALL = "all"  # {"rules": (Rule, …)}
    ANY = "any"  # {"rules": (Rule, …)}
    NOT = "not"  # {"rule": Rule}
    EACH = "each"  # {"rule": Rule}, applied to every element, which its own paths start from
    UNSUPPORTED = "unsupported"  # {}: left to Terraform


@dataclass(frozen=True)
class Rule:
    """One validation block, or one part of its condition.

    `path` says what a check looks at, from the variable's value (or, inside an "each" rule, from the
    element): attribute names, and KEY for the element's key. "all", "any" and "not" look at what their
    parts look at. Parameters are read-only by convention. `line` is where the validation block (for a
    part, its expression) starts: the line Terraform names when the rule fails. A rule that `overrides`,
    when it fails, is the only one whose message is given: one the portal adds whose message is the whole
    answer (what a cloud offers lists every value that would pass).
    """

    kind: RuleKind
    parameters: dict[str, Any]
    error_message: str
    condition: str
    path: tuple[str, ...] = ()
    line: int | None = None
    overrides: bool = False


@dataclass(frozen=True)
class Variable:
    name: str
    type: VariableType
    description: str = ""
    default: Any = None
    required: bool = True
    sensitive: bool = False
    nullable: bool = True
    rules: tuple[Rule, ...] = ()
    choices: tuple[Any, ...] | None = None
    line: int | None = None

    @property
    def label(self) -> str:
        """The name as a person reads it; a msgid of the modules catalogue, like descriptions."""
        return attribute_label(self.name)


def attribute_label(name: str) -> str:
    """A variable's or an object attribute's name as a person reads it ("data_disk_gb" → "Data disk gb")."""
    return name.replace("_", " ").capitalize()


def object_attribute_names(type_: VariableType) -> list[str]:
    """The attribute names of every object type inside this type, outermost first."""
    names: list[str] = []
    for name, attribute in type_.attributes:
        names.append(name)
        names += object_attribute_names(attribute)
    for inner in (type_.element, *type_.elements):
        if inner is not None:
            names += object_attribute_names(inner)
    return names


# Parsing ----------------------------------------------------------------------------------------------------


def parse_variables(source: str, *, module: str, filename: str = "variables.tf") -> list[Variable]:
    """The file's variables in file order; raises ModuleSchemaError naming the module, file and line."""
    try:
        try:
            tree = hcl2.parses_to_tree(source)
        except UnexpectedInput as exc:
            raise _syntax_problem(exc, source) from exc
        except LarkError as exc:
            raise _Problem(_("无法解析 HCL：%(error)s") % {"error": exc}, None) from exc
        reader = _Reader(source)
        variables: list[Variable] = []
        seen: set[str] = set()
        for block in _children(tree.children[0], "block"):
            if _block_type(block) != "variable":
                continue
            variable = reader.variable(block)
            if variable.name in seen:
                raise _Problem(_("变量 %(name)s 重复定义。") % {"name": variable.name}, variable.line)
            seen.add(variable.name)
            variables.append(variable)
        return variables
    except _Problem as problem:
        raise ModuleSchemaError(
            problem.message, module=module, filename=filename, line=problem.line
        ) from None
    except RecursionError:
        raise ModuleSchemaError(_("表达式嵌套过深。"), module=module, filename=filename, line=None) from None


def _syntax_problem(exc: UnexpectedInput, source: str) -> _Problem:
    # The parser sees the source plus a newline, so an unexpected end can be reported one line past it.
    line = min(exc.line, source.count("\n") + 1) if exc.line and exc.line > 0 else None
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        message = _("语法错误：文件意外结束。")
    elif isinstance(exc, UnexpectedToken):
        # A token can span lines (a run of string characters): its first line is enough to find it.
        shown = str(exc.token).strip().partition("\n")[0] or str(exc.token)
        message = _("语法错误（第 %(column)s 列）：此处不应出现 %(token)s。") % {
            "column": exc.column,
            "token": json.dumps(shown[:40], ensure_ascii=False),
        }
    elif isinstance(exc, UnexpectedCharacters):
        message = _("语法错误（第 %(column)s 列）：此处不应出现 %(token)s。") % {
            "column": exc.column,
            "token": json.dumps(exc.char, ensure_ascii=False),
        }
    else:
        message = _("语法错误：文件意外结束。")
    return _Problem(message, line)


def _is_layout(node: Tree | Token) -> bool:
    return isinstance(node, Tree) and node.data == "new_line_or_comment"


def _children(tree: Tree, data: str) -> list[Tree]:
    return [child for child in tree.children if isinstance(child, Tree) and child.data == data]


def _block_type(block: Tree) -> str:
    return str(block.children[0].children[0])


def _labels(block: Tree) -> list[Tree]:
    return [
        child
        for child in block.children[1:]
        if isinstance(child, Tree) and child.data in ("string", "identifier")
    ]


def _end(node: Tree | Token) -> int:
    """Where an expression's source ends: binary operations also hold the line break or comment after them."""
    if isinstance(node, Token):
        return node.end_pos
    return _end([child for child in node.children if not _is_layout(child)][-1])


def _line(node: Tree | Token) -> int | None:
    if isinstance(node, Token):
        return node.line
    return None if node.meta.empty else node.meta.line


# Expressions, lowered from the Lark tree to the few shapes the portal reads.


@dataclass(frozen=True)
class _Expr:
    line: int | None
    text: str


@dataclass(frozen=True)
class _Literal(_Expr):
    value: Any  # str, int, float, bool or None


@dataclass(frozen=True)
class _Tuple(_Expr):
    items: tuple[_Expr, ...]


@dataclass(frozen=True)
class _Object(_Expr):
    items: tuple[tuple[str | None, _Expr], ...]  # key is None when it is not a plain name or string


@dataclass(frozen=True)
class _Ref(_Expr):
    root: str
    attributes: tuple[str, ...]


@dataclass(frozen=True)
class _Call(_Expr):
    name: str
    arguments: tuple[_Expr, ...]


@dataclass(frozen=True)
class _Binary(_Expr):
    operator: str
    left: _Expr
    right: _Expr


@dataclass(frozen=True)
class _Unary(_Expr):
    operator: str
    operand: _Expr


@dataclass(frozen=True)
class _For(_Expr):
    names: tuple[str, ...]  # (value,) or (key, value)
    collection: _Expr
    body: _Expr


@dataclass(frozen=True)
class _Other(_Expr):
    """Anything else HCL allows: conditionals, indexes, splats, templates, object comprehensions…"""


_STRING_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


class _Reader:
    """Reads variable blocks out of one file's Lark tree."""

    def __init__(self, source: str) -> None:
        self.source = source

    def text(self, node: Tree) -> str:
        return "" if node.meta.empty else self.source[node.meta.start_pos : _end(node)]

    # Expressions

    def expr(self, node: Tree) -> _Expr:
        line, text = _line(node), self.text(node)
        children = [child for child in node.children if not _is_layout(child)]
        match node.data:
            case "expr_term":
                # One child, or a parenthesised expression: ( expression )
                inner = children[1] if isinstance(children[0], Token) else children[0]
                return self.expr(inner)
            case "int_lit" | "float_lit":
                return _Literal(line, text, _number_from_decimal(Decimal(str(children[0]))))
            case "literal_value":
                return _Literal(line, text, {"TRUE": True, "FALSE": False, "NULL": None}[children[0].type])
            case "string":
                value = self.string_value(children[1:-1])
                return _Other(line, text) if value is None else _Literal(line, text, value)
            case "heredoc_template" | "heredoc_template_trim":
                value = _heredoc_value(str(children[0]), trim=node.data == "heredoc_template_trim")
                return _Other(line, text) if value is None else _Literal(line, text, value)
            case "identifier":
                return _Ref(line, text, str(children[0]), ())
            case "get_attr_expr_term":
                base = self.expr(children[0])
                attribute = children[1].children[-1].children[0]
                if isinstance(base, _Ref):
                    return _Ref(line, text, base.root, (*base.attributes, str(attribute)))
                return _Other(line, text)
            case "tuple":
                return _Tuple(
                    line, text, tuple(self.expr(child) for child in children if isinstance(child, Tree))
                )
            case "object":
                return _Object(
                    line, text, tuple(self.object_item(child) for child in _children(node, "object_elem"))
                )
            case "function_call":
                arguments = _children(node, "arguments")
                argument_nodes = [c for c in arguments[0].children if not _is_layout(c)] if arguments else []
                if len(_children(node, "identifier")) > 1 or any(
                    isinstance(c, Token) and c.type == "ELLIPSIS" for c in argument_nodes
                ):
                    return _Other(line, text)  # provider functions and argument expansion
                return _Call(
                    line,
                    text,
                    str(children[0].children[0]),
                    tuple(self.expr(c) for c in argument_nodes if isinstance(c, Tree)),
                )
            case "binary_op":
                term = [c for c in children[1].children if not _is_layout(c)]
                # The operator token may hold the line break before it (python-hcl2's post-lexer folds it in).
                operator = str(term[0].children[0]).strip()
                return _Binary(line, text, operator, self.expr(children[0]), self.expr(term[1]))
            case "unary_op":
                operand = self.expr(children[1])
                if (
                    children[0].type == "MINUS"
                    and isinstance(operand, _Literal)
                    and _is_number(operand.value)
                ):
                    return _Literal(line, text, -operand.value)
                return _Unary(line, text, str(children[0]), operand)
            case "for_tuple_expr":
                if _children(node, "for_cond"):
                    return _Other(line, text)
                intro = [c for c in _children(node, "for_intro")[0].children if not _is_layout(c)]
                names = tuple(
                    str(c.children[0]) for c in intro if isinstance(c, Tree) and c.data == "identifier"
                )
                in_position = next(i for i, c in enumerate(intro) if isinstance(c, Token) and c.type == "IN")
                body = [c for c in children if isinstance(c, Tree) and c.data != "for_intro"]
                return _For(line, text, names, self.expr(intro[in_position + 1]), self.expr(body[0]))
        return _Other(line, text)

    def object_item(self, node: Tree) -> tuple[str | None, _Expr]:
        key_node = node.children[0].children[0]
        if key_node.data == "keyword":
            key: str | None = str(key_node.children[0])
        else:
            key_expr = self.expr(key_node)
            if isinstance(key_expr, _Ref) and not key_expr.attributes:
                key = key_expr.root
            elif isinstance(key_expr, _Literal) and isinstance(key_expr.value, str):
                key = key_expr.value
            else:
                key = None
        return key, self.expr(node.children[-1])

    def string_value(self, parts: Sequence[Tree]) -> str | None:
        """The value of a quoted string, or None when it is a template (interpolations, directives)."""
        pieces = []
        for part in parts:
            token = part.children[0]
            if not isinstance(token, Token):
                return None
            if token.type == "STRING_CHARS":
                pieces.append(_unescape(str(token), token.line))
            elif token.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
                pieces.append(str(token)[1:])  # $${ and %%{ stand for a literal ${ and %{
            else:
                return None
        return "".join(pieces)

    # Blocks

    def arguments(self, body: Tree, allowed: Iterable[str], where: str) -> dict[str, Tree]:
        arguments: dict[str, Tree] = {}
        for attribute in _children(body, "attribute"):
            name = str(attribute.children[0].children[0])
            if name not in allowed:
                raise _Problem(
                    _("%(where)s 中不支持参数 %(name)s。") % {"where": where, "name": name}, _line(attribute)
                )
            if name in arguments:
                raise _Problem(_("参数 %(name)s 重复。") % {"name": name}, _line(attribute))
            arguments[name] = attribute.children[-1]
        return arguments

    def literal(self, node: Tree, what: str) -> Any:
        try:
            return _literal_value(self.expr(node))
        except ValueError:
            raise _Problem(
                _("参数 %(what)s 必须是字面量，不能引用变量或调用函数。") % {"what": what}, _line(node)
            ) from None

    def literal_of(self, node: Tree, kind: type, what: str) -> Any:
        value = self.literal(node, what)
        if not isinstance(value, kind):
            message = (
                _("参数 %(what)s 必须是字符串。")
                if kind is str
                else _("参数 %(what)s 必须是 true 或 false。")
            )
            raise _Problem(message % {"what": what}, _line(node))
        return value

    def variable(self, block: Tree) -> Variable:
        labels = _labels(block)
        line = _line(block)
        if len(labels) != 1:
            raise _Problem(_("variable 块需要且只需要一个名称。"), line)
        label = self.expr(labels[0])
        name = label.value if isinstance(label, _Literal) else label.root if isinstance(label, _Ref) else None
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
            raise _Problem(_("变量名 %(name)s 无效。") % {"name": label.text}, line)
        where = f'variable "{name}"'
        body = _children(block, "body")[0]
        for nested in _children(body, "block"):
            if _block_type(nested) != "validation" or _labels(nested):
                raise _Problem(
                    _("%(where)s 中不支持 %(block)s 块。") % {"where": where, "block": _block_type(nested)},
                    _line(nested),
                )
        arguments = self.arguments(body, ("type", "description", "default", "sensitive", "nullable"), where)

        type_ = self.type_constraint(self.expr(arguments["type"])) if "type" in arguments else ANY
        description = (
            self.literal_of(arguments["description"], str, "description")
            if "description" in arguments
            else ""
        )
        sensitive = (
            self.literal_of(arguments["sensitive"], bool, "sensitive") if "sensitive" in arguments else False
        )
        nullable = (
            self.literal_of(arguments["nullable"], bool, "nullable") if "nullable" in arguments else True
        )
        required = "default" not in arguments
        default = None
        if not required:
            default_node = arguments["default"]
            default = self.literal(default_node, "default")
            if default is None and not nullable:
                raise _Problem(_("nullable = false 的变量不能以 null 为默认值。"), _line(default_node))
            if default is not None:
                problems: list[tuple[str, str]] = []
                default = _convert(type_, default, "", problems)
                if problems:
                    raise _Problem(
                        _("默认值不符合类型 %(type)s：%(problem)s")
                        % {"type": type_, "problem": _describe(problems[0])},
                        _line(default_node),
                    )

        rules = tuple(self.validation(nested, name, type_) for nested in _children(body, "block"))
        for rule, nested in zip(rules, _children(body, "block"), strict=True):
            if not required and rule.kind is not RuleKind.UNSUPPORTED and not _satisfied(rule, default):
                raise _Problem(
                    _("默认值不满足校验规则：%(message)s") % {"message": rule.error_message}, _line(nested)
                )
        return Variable(
            name=name,
            type=type_,
            description=description,
            default=default,
            required=required,
            sensitive=sensitive,
            nullable=nullable,
            rules=rules,
            choices=_variable_choices(rules),
            line=line,
        )

    def type_constraint(self, expr: _Expr) -> VariableType:
        match expr:
            case _Ref(root=root, attributes=()) if root in ("string", "number", "bool", "any"):
                return VariableType(TypeKind(root))
            case _Call(name=("list" | "set" | "map") as name, arguments=(element,)):
                return VariableType(TypeKind(name), element=self.type_constraint(element))
            case _Call(name="object", arguments=(_Object(items=items),)) if all(key for key, _value in items):
                names = [key for key, _value in items]
                if len(set(names)) != len(names):
                    raise _Problem(_("对象类型中有重复的属性。"), expr.line)
                return VariableType(
                    TypeKind.OBJECT,
                    attributes=tuple((key, self.type_constraint(value)) for key, value in items),
                )
            case _Call(name="tuple", arguments=(_Tuple(items=items),)):
                return VariableType(
                    TypeKind.TUPLE, elements=tuple(self.type_constraint(item) for item in items)
                )
        raise _Problem(_("未知的类型表达式：%(type)s") % {"type": expr.text}, expr.line)

    def validation(self, block: Tree, name: str, type_: VariableType) -> Rule:
        line = _line(block)
        body = _children(block, "body")[0]
        arguments = self.arguments(body, ("condition", "error_message"), "validation")
        if set(arguments) != {"condition", "error_message"}:
            raise _Problem(_("validation 块需要 condition 和 error_message。"), line)
        message = self.literal_of(arguments["error_message"], str, "error_message")
        if not _looks_like_sentences(message):
            # Terraform refuses such a module; saying so here names the line before a plan fails.
            raise _Problem(
                _("error_message 必须是以大写字母开头、以句号、问号或感叹号结尾的英文句子。"),
                _line(arguments["error_message"]),
            )
        condition_node = arguments["condition"]
        references = _variable_references(condition_node)
        if references != {name}:
            raise _Problem(
                _("校验条件只能引用 var.%(name)s，并且必须引用它。") % {"name": name}, _line(condition_node)
            )
        condition = self.expr(condition_node)
        rule = _ConditionReader(name, message).read(condition, _Scope(type_))
        if rule is None:
            return Rule(RuleKind.UNSUPPORTED, {}, message, condition.text, line=line)
        return replace(rule, line=line)


def _unescape(raw: str, line: int | None) -> str:
    pieces = []
    position = 0
    while position < len(raw):
        char = raw[position]
        if char != "\\":
            pieces.append(char)
            position += 1
            continue
        marker = raw[position + 1 : position + 2]
        if marker in _STRING_ESCAPES and marker:
            pieces.append(_STRING_ESCAPES[marker])
            position += 2
            continue
        width = {"u": 4, "U": 8}.get(marker)
        digits = raw[position + 2 : position + 2 + width] if width else ""
        if width and re.fullmatch(r"[0-9A-Fa-f]+", digits) and len(digits) == width:
            codepoint = int(digits, 16)
            if codepoint <= 0x10FFFF and not 0xD800 <= codepoint < 0xE000:
                pieces.append(chr(codepoint))
                position += 2 + width
                continue
        # Terraform refuses these too; the classic mistake is "\d" where a regex needs "\\d".
        raise _Problem(_("无效的转义序列 %(escape)s。") % {"escape": "\\" + marker}, line)
    return "".join(pieces)


def _heredoc_value(raw: str, *, trim: bool) -> str | None:
    lines = raw.split("\n")[1:]  # drop the <<MARKER line
    while lines and not lines[-1].strip():
        lines.pop()
    body = [line.removesuffix("\r") for line in lines[:-1]]  # the last line is the closing marker
    if trim:
        indents = [len(line) - len(line.lstrip(" \t")) for line in body if line.strip()]
        indent = min(indents, default=0)
        body = [line[indent:] for line in body]
    text = "".join(line + "\n" for line in body)
    if re.search(r"(?<![$%])[$%]\{", text):
        return None
    return text.replace("$${", "${").replace("%%{", "%{")


def _variable_references(node: Tree) -> set[str]:
    names = set()
    for subtree in node.iter_subtrees():
        if subtree.data != "get_attr_expr_term":
            continue
        base = subtree.children[0].children[0]
        if isinstance(base, Tree) and base.data == "identifier" and str(base.children[0]) == "var":
            names.add(str(subtree.children[1].children[-1].children[0]))
    return names


def _looks_like_sentences(message: str) -> bool:
    """Terraform 1.0's test of an error_message: untrimmed, an uppercase first letter, a final . ? or !"""
    if not message:
        return False
    first = message[0]
    return (not first.isalpha() or first.isupper()) and message[-1] in ".?!"


def _literal_value(expr: _Expr) -> Any:
    match expr:
        case _Literal(value=value):
            return value
        case _Tuple(items=items):
            return [_literal_value(item) for item in items]
        case _Object(items=items) if all(key is not None for key, _value in items):
            return {key: _literal_value(value) for key, value in items}
    raise ValueError(expr.text)


# Conditions -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    """What a condition's names stand for: the variable itself at the top, an element inside a for."""

    type: VariableType
    value_name: str | None = None  # None: the value is var.<name>
    key_name: str | None = None
    key_type: VariableType | None = None


_COMPARISONS = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_LENGTH_KINDS = frozenset(
    {
        TypeKind.STRING,
        TypeKind.LIST,
        TypeKind.SET,
        TypeKind.MAP,
        TypeKind.OBJECT,
        TypeKind.TUPLE,
        TypeKind.ANY,
    }
)


class _ConditionReader:
    """Turns a condition into a Rule, or None when any part of it is beyond the portal."""

    def __init__(self, variable: str, message: str) -> None:
        self.variable = variable
        self.message = message

    def rule(
        self, kind: RuleKind, parameters: dict[str, Any], expr: _Expr, path: tuple[str, ...] = ()
    ) -> Rule:
        return Rule(kind, parameters, self.message, expr.text, path, expr.line)

    def read(self, expr: _Expr, scope: _Scope) -> Rule | None:
        match expr:
            case _Binary(operator="&&" | "||" as operator):
                parts = [self.read(part, scope) for part in _operands(expr, operator)]
                if None in parts:
                    return None
                if operator == "||":
                    return self.rule(RuleKind.ANY, {"rules": tuple(parts)}, expr)
                return self.conjunction(parts, expr)
            case _Unary(operator="!", operand=operand):
                inner = self.read(operand, scope)
                return None if inner is None else self.rule(RuleKind.NOT, {"rule": inner}, expr)
            case _Call(name="contains", arguments=(_Tuple() as listed, subject)):
                return self.choices(listed, subject, expr, scope)
            case _Call(
                name="can",
                arguments=(_Call(name="regex", arguments=(_Literal(value=str() as pattern), subject)),),
            ):
                return self.pattern(pattern, subject, expr, scope)
            case _Call(name="alltrue", arguments=(_For() as loop,)):
                return self.each(loop, expr, scope)
            case _Binary(operator=operator, left=left, right=right) if operator in _COMPARISONS:
                if isinstance(left, _Literal) and not isinstance(right, _Literal):
                    left, right, operator = right, left, _COMPARISONS[operator]
                return self.comparison(operator, left, right, expr, scope)
        return None

    def conjunction(self, parts: list[Rule], expr: _Expr) -> Rule:
        """An "all" rule, with bounds on the same subject folded into one range or length rule."""
        merged: list[Rule] = []
        for part in parts:
            previous = next(
                (
                    rule
                    for rule in merged
                    if rule.kind == part.kind
                    and rule.path == part.path
                    and part.kind in (RuleKind.RANGE, RuleKind.LENGTH)
                    and not set(rule.parameters) & set(part.parameters)
                ),
                None,
            )
            if previous is None:
                merged.append(part)
                continue
            combined = Rule(
                part.kind,
                {**previous.parameters, **part.parameters},
                self.message,
                f"{previous.condition} && {part.condition}",
                part.path,
                previous.line,
            )
            merged[merged.index(previous)] = combined
        if len(merged) == 1:
            return replace(merged[0], condition=expr.text, line=expr.line)
        return self.rule(RuleKind.ALL, {"rules": tuple(merged)}, expr)

    def subject(self, expr: _Expr, scope: _Scope) -> tuple[tuple[str, ...], VariableType] | None:
        """The path and type of what an expression names, if it names the value (or its element) at all."""
        if not isinstance(expr, _Ref):
            return None
        if scope.value_name is None and expr.root == "var" and expr.attributes[:1] == (self.variable,):
            attributes = expr.attributes[1:]
        elif scope.value_name is not None and expr.root == scope.value_name:
            attributes = expr.attributes
        elif scope.key_name is not None and expr.root == scope.key_name and not expr.attributes:
            return (KEY,), scope.key_type or STRING
        else:
            return None
        type_ = scope.type
        for attribute in attributes:
            if type_.kind is TypeKind.OBJECT and type_.attribute(attribute) is not None:
                type_ = type_.attribute(attribute)
            elif type_.kind is not TypeKind.ANY:
                return None
        return attributes, type_

    def choices(self, listed: _Tuple, subject_expr: _Expr, expr: _Expr, scope: _Scope) -> Rule | None:
        subject = self.subject(subject_expr, scope)
        values = [
            item.value for item in listed.items if isinstance(item, _Literal) and item.value is not None
        ]
        if (
            subject is None
            or len(values) != len(listed.items)
            or subject[1].kind not in (*PRIMITIVE_KINDS, TypeKind.ANY)
        ):
            return None
        return self.rule(RuleKind.CHOICES, {"choices": tuple(values)}, expr, subject[0])

    def pattern(self, pattern: str, subject_expr: _Expr, expr: _Expr, scope: _Scope) -> Rule | None:
        subject = self.subject(subject_expr, scope)
        if subject is None or subject[1].kind not in (TypeKind.STRING, TypeKind.ANY):
            return None
        try:
            _compiled(pattern)
        except _NotPortable:
            return None
        except _RejectedByRe2 as exc:
            raise _Problem(
                _("正则表达式 %(pattern)s 不是 Terraform 支持的 RE2 语法（%(reason)s），任何值都无法通过。")
                % {"pattern": json.dumps(pattern, ensure_ascii=False), "reason": exc.args[0]},
                expr.line,
            ) from None
        return self.rule(RuleKind.PATTERN, {"pattern": pattern}, expr, subject[0])

    def each(self, loop: _For, expr: _Expr, scope: _Scope) -> Rule | None:
        subject = self.subject(loop.collection, scope)
        if subject is None:
            return None
        path, type_ = subject
        if type_.kind in (TypeKind.LIST, TypeKind.SET):
            key_type = NUMBER if type_.kind is TypeKind.LIST else None  # a set's "key" is its element
        elif type_.kind is TypeKind.MAP:
            key_type = STRING
        else:
            return None
        if len(loop.names) == 2 and key_type is None:
            return None
        inner_scope = _Scope(
            type_.element or ANY,
            value_name=loop.names[-1],
            key_name=loop.names[0] if len(loop.names) == 2 else None,
            key_type=key_type,
        )
        body = self.read(loop.body, inner_scope)
        return None if body is None else self.rule(RuleKind.EACH, {"rule": body}, expr, path)

    def comparison(self, operator: str, left: _Expr, right: _Expr, expr: _Expr, scope: _Scope) -> Rule | None:
        negate = operator == "!="
        if negate:
            operator = "=="
        rule: Rule | None = None
        if isinstance(right, _Literal) and right.value is None and operator == "==":
            subject = self.subject(left, scope)
            rule = None if subject is None else self.rule(RuleKind.NULL, {}, expr, subject[0])
        elif (
            operator == "==" and isinstance(left, _Call) and left.name == "floor" and len(left.arguments) == 1
        ):
            rule = self.integer(left.arguments[0], right, expr, scope)
        elif (
            operator == "=="
            and isinstance(right, _Call)
            and right.name == "floor"
            and len(right.arguments) == 1
        ):
            rule = self.integer(right.arguments[0], left, expr, scope)
        elif (
            isinstance(right, _Literal)
            and _is_number(right.value)
            and isinstance(left, _Call)
            and left.name == "length"
        ):
            rule = self.length(operator, left.arguments, right.value, expr, scope)
        elif isinstance(right, _Literal) and _is_number(right.value) and operator != "==":
            subject = self.subject(left, scope)
            if subject is not None and subject[1].kind in (TypeKind.NUMBER, TypeKind.ANY):
                rule = self.rule(RuleKind.RANGE, {_RANGE_KEYS[operator]: right.value}, expr, subject[0])
        elif isinstance(right, _Literal) and right.value is not None and operator == "==":
            subject = self.subject(left, scope)
            if subject is not None and subject[1].kind in (*PRIMITIVE_KINDS, TypeKind.ANY):
                rule = self.rule(RuleKind.EQUALS, {"value": right.value}, expr, subject[0])
        if rule is None or not negate:
            return rule
        return self.rule(RuleKind.NOT, {"rule": rule}, expr)

    def integer(self, floored: _Expr, other: _Expr, expr: _Expr, scope: _Scope) -> Rule | None:
        subject = self.subject(floored, scope)
        if (
            subject is None
            or subject != self.subject(other, scope)
            or subject[1].kind not in (TypeKind.NUMBER, TypeKind.ANY)
        ):
            return None
        return self.rule(RuleKind.INTEGER, {}, expr, subject[0])

    def length(
        self, operator: str, arguments: tuple[_Expr, ...], bound: float, expr: _Expr, scope: _Scope
    ) -> Rule | None:
        subject = self.subject(arguments[0], scope) if len(arguments) == 1 else None
        if subject is None or subject[1].kind not in _LENGTH_KINDS:
            return None
        # Lengths are whole numbers, so every bound becomes an inclusive integer one.
        parameters = {
            ">=": {"minimum": math.ceil(bound)},
            ">": {"minimum": math.floor(bound) + 1},
            "<=": {"maximum": math.floor(bound)},
            "<": {"maximum": math.ceil(bound) - 1},
            "==": {"minimum": math.ceil(bound), "maximum": math.floor(bound)},
        }[operator]
        return self.rule(RuleKind.LENGTH, parameters, expr, subject[0])


_RANGE_KEYS = {">=": "minimum", ">": "exclusive_minimum", "<=": "maximum", "<": "exclusive_maximum"}


def _operands(expr: _Expr, operator: str) -> list[_Expr]:
    if isinstance(expr, _Binary) and expr.operator == operator:
        return [*_operands(expr.left, operator), *_operands(expr.right, operator)]
    return [expr]


def with_rule(variable: Variable, rule: Rule) -> Variable:
    """The variable with one more rule (one the portal adds, such as what a cloud offers), its choices
    narrowed accordingly."""
    rules = (*variable.rules, rule)
    return replace(variable, rules=rules, choices=_variable_choices(rules))


def _variable_choices(rules: Iterable[Rule]) -> tuple[Any, ...] | None:
    """The values a contains() rule on the variable itself allows, for a choice field."""
    choices: tuple[Any, ...] | None = None
    for rule in rules:
        allowed = _rule_choices(rule)
        if allowed is not None:
            choices = allowed if choices is None else tuple(value for value in choices if value in allowed)
    return choices


def _rule_choices(rule: Rule) -> tuple[Any, ...] | None:
    if rule.path:
        return None
    if rule.kind is RuleKind.CHOICES:
        return rule.parameters["choices"]
    if rule.kind is RuleKind.ALL:
        return _variable_choices(rule.parameters["rules"])
    if rule.kind is RuleKind.ANY:
        # `var.x == null || contains([...], var.x)`: the null test adds no choice of its own.
        branches = [r for r in rule.parameters["rules"] if not (r.kind is RuleKind.NULL and not r.path)]
        if len(branches) == 1:
            return _rule_choices(branches[0])
    return None


# RE2 patterns, run with Python's re -------------------------------------------------------------------------


class _RejectedByRe2(Exception):
    """Python syntax that RE2 refuses: regex() fails, so Terraform rejects every value."""


class _NotPortable(Exception):
    """RE2 syntax that Python's re cannot reproduce exactly; the rule is left to Terraform."""


_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    """The RE2 pattern as a Python pattern with the same meaning; search() it, as regex() finds substrings."""
    try:
        # RE2's \d, \w, \s and \b are ASCII-only.
        return re.compile(_python_syntax(pattern), re.ASCII)
    except re.error as exc:
        raise _NotPortable(str(exc)) from None


def _python_syntax(pattern: str) -> str:
    out: list[str] = []
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char == "\\":
            marker = pattern[position + 1 : position + 2]
            if not marker:
                raise _RejectedByRe2("trailing backslash")
            if marker in "123456789":
                raise _RejectedByRe2("backreference")
            if marker == "Z":
                raise _RejectedByRe2("\\Z")
            if marker in "QEpPC":
                raise _NotPortable(marker)
            out.append("\\Z" if marker == "z" else char + marker)
            position += 2
        elif char == "[":
            translated, position = _python_class(pattern, position)
            out.append(translated)
        elif pattern.startswith("(?", position):
            rest = pattern[position + 2 :]
            if rest.startswith(("=", "!", "<=", "<!")):
                raise _RejectedByRe2("lookaround")
            flags = re.match(r"[a-zA-Z-]*", rest).group()  # type: ignore[union-attr]
            if not rest.startswith("P<") and set(flags) - set("is-"):
                raise _NotPortable(flags)  # multi-line and ungreedy modes change what $ and quantifiers mean
            out.append("(?")
            position += 2
        elif char == "$":
            # RE2's $ is the end of the text; Python's also matches before a final newline.
            out.append("\\Z")
            position += 1
        else:
            out.append(char)
            position += 1
    return "".join(out)


def _python_class(pattern: str, start: int) -> tuple[str, int]:
    out = ["["]
    position = start + 1
    if pattern.startswith("^", position):
        out.append("^")
        position += 1
    first = True
    while position < len(pattern):
        char = pattern[position]
        if char == "]" and not first:
            out.append("]")
            return "".join(out), position + 1
        first = False
        if char == "\\":
            out.append(pattern[position : position + 2])
            position += 2
        elif pattern.startswith("[:", position):
            end = pattern.find(":]", position + 2)
            name = pattern[position + 2 : end] if end > 0 else ""
            if name not in _POSIX_CLASSES:
                raise _NotPortable(name)
            out.append(_POSIX_CLASSES[name])
            position = end + 2
        else:
            # Escaped so Python never reads set operations or nested sets into them.
            out.append("\\" + char if char in "[&~|" else char)
            position += 1
    raise _RejectedByRe2("missing ]")


# Values -----------------------------------------------------------------------------------------------------


_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_LARGEST = Decimal("1e308")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_from_decimal(number: Decimal) -> int | float:
    return int(number) if number == number.to_integral_value() else float(number)


def parse_number(text: str) -> int | float:
    """A number written as text, read as Terraform reads it: int when whole, else float (or ValueError)."""
    if not _NUMBER_TEXT.fullmatch(text):
        raise ValueError(text)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(text) from None
    if abs(number) > _LARGEST:
        raise ValueError(text)
    return _number_from_decimal(number)


def _number_text(number: int | float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(number)


def _convert(type_: VariableType, value: Any, location: str, problems: list[tuple[str, str]]) -> Any:
    """The value converted to the type as Terraform converts it; what cannot be is added to problems."""

    def problem(message: str) -> None:
        problems.append((location, message))

    if value is None:
        problem(_("此项为必填项。"))
        return None
    match type_.kind:
        case TypeKind.ANY:
            return copy.deepcopy(value)
        case TypeKind.STRING:
            if isinstance(value, str):
                return value
            if isinstance(value, bool):
                return "true" if value else "false"
            if _is_number(value) and math.isfinite(value):
                return _number_text(value)
            problem(_("请输入文本。"))
        case TypeKind.NUMBER:
            if isinstance(value, str):
                try:
                    return parse_number(value)
                except ValueError:
                    pass
            elif _is_number(value) and math.isfinite(value) and abs(value) <= _LARGEST:
                return int(value) if float(value).is_integer() else value
            problem(_("请输入数字。"))
        case TypeKind.BOOL:
            if isinstance(value, bool):
                return value
            if value in ("true", "false"):
                return value == "true"
            problem(_("请输入 true 或 false。"))
        case TypeKind.LIST | TypeKind.SET | TypeKind.TUPLE:
            if not isinstance(value, list | tuple):
                problem(_("请输入列表。"))
                return None
            if type_.kind is TypeKind.TUPLE and len(value) != len(type_.elements):
                count = len(type_.elements)
                problem(ngettext("应有 %(count)d 项。", "应有 %(count)d 项。", count) % {"count": count})
                return None
            types = type_.elements if type_.kind is TypeKind.TUPLE else [type_.element] * len(value)
            items = [
                _convert(t, item, f"{location}[{i}]", problems)
                for i, (t, item) in enumerate(zip(types, value, strict=True))
            ]
            if type_.kind is TypeKind.SET:
                unique: list[Any] = []
                for item in items:
                    if item not in unique:
                        unique.append(item)
                return unique
            return items
        case TypeKind.MAP:
            if not isinstance(value, dict):
                problem(_("请输入对象。"))
                return None
            converted = {}
            for key, item in value.items():
                key_location = f"{location}[{json.dumps(key, ensure_ascii=False, default=str)}]"
                if not isinstance(key, str):
                    problems.append((key_location, _("键必须是文本。")))
                    continue
                converted[key] = _convert(type_.element, item, key_location, problems)
            return converted
        case TypeKind.OBJECT:
            if not isinstance(value, dict):
                problem(_("请输入对象。"))
                return None
            declared = dict(type_.attributes)
            for name in value:
                if name not in declared:
                    problem(_("未知属性 %(name)s。") % {"name": name})
            converted = {}
            for name, attribute_type in type_.attributes:
                if name not in value:
                    problem(_("缺少属性 %(name)s。") % {"name": name})
                    continue
                converted[name] = _convert(attribute_type, value[name], f"{location}.{name}", problems)
            return converted
    return None


def _describe(problem: tuple[str, str]) -> str:
    location, message = problem
    if not location:
        return message
    return _("%(location)s：%(message)s") % {"location": location.removeprefix("."), "message": message}


# Evaluating rules -------------------------------------------------------------------------------------------


def _satisfied(rule: Rule, value: Any) -> bool:
    return _holds(rule, value, None) is True


def _holds(rule: Rule, value: Any, key: Any) -> bool | None:
    """True or False as Terraform would find the condition, or None where Terraform would stop on an error."""
    kind = rule.kind
    if kind in (RuleKind.ALL, RuleKind.ANY):
        results = [_holds(part, value, key) for part in rule.parameters["rules"]]
        if None in results:
            return None
        return all(results) if kind is RuleKind.ALL else any(results)
    if kind is RuleKind.NOT:
        result = _holds(rule.parameters["rule"], value, key)
        return None if result is None else not result
    subject = value
    for step in rule.path:
        if step == KEY:
            subject = key
        elif isinstance(subject, dict) and step in subject:
            subject = subject[step]
        else:
            return None
    match kind:
        case RuleKind.NULL:
            return subject is None
        case RuleKind.CHOICES:
            if subject is None:
                return None  # contains() refuses a null value
            return any(_same(subject, choice) for choice in rule.parameters["choices"])
        case RuleKind.EQUALS:
            return _same(subject, rule.parameters["value"])
        case RuleKind.PATTERN:
            return (
                isinstance(subject, str) and _compiled(rule.parameters["pattern"]).search(subject) is not None
            )
        case RuleKind.RANGE:
            if not _is_number(subject):
                return None
            bounds = rule.parameters
            return (
                subject >= bounds.get("minimum", -math.inf)
                and subject <= bounds.get("maximum", math.inf)
                and subject > bounds.get("exclusive_minimum", -math.inf)
                and subject < bounds.get("exclusive_maximum", math.inf)
            )
        case RuleKind.LENGTH:
            if not isinstance(subject, str | list | tuple | dict):
                return None
            return (
                rule.parameters.get("minimum", 0) <= len(subject) <= rule.parameters.get("maximum", math.inf)
            )
        case RuleKind.INTEGER:
            return None if not _is_number(subject) else float(subject).is_integer()
        case RuleKind.EACH:
            if isinstance(subject, dict):
                members: Iterable[tuple[Any, Any]] = subject.items()
            elif isinstance(subject, list | tuple):
                members = enumerate(subject)
            else:
                return None
            results = [_holds(rule.parameters["rule"], item, member_key) for member_key, item in members]
            return None if None in results else all(results)
    return True  # unsupported: Terraform decides


def _same(value: Any, choice: Any) -> bool:
    # Python holds True == 1; Terraform's bool and number never equal each other.
    if isinstance(value, bool) or isinstance(choice, bool):
        return isinstance(value, bool) and isinstance(choice, bool) and value == choice
    return value == choice


def validate_values(
    variables: Sequence[Variable], values: dict[str, Any], *, translate: Callable[[str], str] = _untranslated
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(cleaned values, error messages by variable name).

    Cleaned values hold every valid variable, typed, with defaults filled in; a null value counts as not
    given. Rules of kind "unsupported" are skipped: Terraform enforces them when it plans.
    """
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    declared = {variable.name for variable in variables}
    for name in values:
        if name not in declared:
            errors[name] = [_("该服务没有这个参数。")]
    for variable in variables:
        raw = values.get(variable.name)
        if raw is None:
            if variable.required:
                errors[variable.name] = [_("此项为必填项。")]
                continue
            value = copy.deepcopy(variable.default)
        else:
            problems: list[tuple[str, str]] = []
            value = _convert(variable.type, raw, "", problems)
            if problems:
                errors[variable.name] = [_describe(problem) for problem in problems]
                continue
        failed = [
            rule for rule in variable.rules if rule.kind is not RuleKind.UNSUPPORTED and not _satisfied(rule, value)
        ]
        messages: list[str] = []
        for rule in [rule for rule in failed if rule.overrides] or failed:
            message = translate(rule.error_message)
            if message not in messages:
                messages.append(message)
        if messages:
            errors[variable.name] = messages
        else:
            cleaned[variable.name] = value
    return cleaned, errors


# JSON Schema ------------------------------------------------------------------------------------------------


def to_json_schema(
    variables: Sequence[Variable], *, translate: Callable[[str], str] = _untranslated
) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of the values validate_values accepts.

    Rules JSON Schema cannot express (unsupported ones, and `||` or `!` around one) are left out, so the
    schema may accept a little more than the portal; patterns are given in RE2 syntax, which shares its
    common constructs with the ECMA-262 syntax JSON Schema names.
    """
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "type": "object",
        "properties": {variable.name: _property_schema(variable, translate) for variable in variables},
        "required": [variable.name for variable in variables if variable.required],
        "additionalProperties": False,
    }


def _property_schema(variable: Variable, translate: Callable[[str], str]) -> dict[str, Any]:
    schema = _type_schema(variable.type)
    for rule in variable.rules:
        fragment = _rule_schema(rule, variable.type, keys=False)
        if fragment:
            _merge(schema, fragment)
    if not variable.required and variable.default is None:
        schema = {"anyOf": [schema, {"type": "null"}]}
    annotations: dict[str, Any] = {"title": translate(variable.label)}
    if variable.description:
        annotations["description"] = translate(variable.description)
    if variable.sensitive:
        annotations.update(writeOnly=True, format="password")
    elif not variable.required:
        annotations["default"] = variable.default
    return {**annotations, **schema}


def _type_schema(type_: VariableType) -> dict[str, Any]:
    match type_.kind:
        case TypeKind.STRING:
            return {"type": "string"}
        case TypeKind.NUMBER:
            return {"type": "number"}
        case TypeKind.BOOL:
            return {"type": "boolean"}
        case TypeKind.LIST:
            return {"type": "array", "items": _type_schema(type_.element)}
        case TypeKind.SET:
            return {"type": "array", "items": _type_schema(type_.element), "uniqueItems": True}
        case TypeKind.MAP:
            return {"type": "object", "additionalProperties": _type_schema(type_.element)}
        case TypeKind.OBJECT:
            return {
                "type": "object",
                "properties": {name: _type_schema(attribute) for name, attribute in type_.attributes},
                "required": [name for name, _attribute in type_.attributes],
                "additionalProperties": False,
            }
        case TypeKind.TUPLE:
            count = len(type_.elements)
            return {
                "type": "array",
                "prefixItems": [_type_schema(element) for element in type_.elements],
                "items": False,
                "minItems": count,
                "maxItems": count,
            }
    return {}


def _type_at(type_: VariableType, path: tuple[str, ...]) -> VariableType:
    for step in path:
        type_ = (type_.attribute(step) if type_.kind is TypeKind.OBJECT else None) or ANY
    return type_


def _rule_schema(rule: Rule, type_: VariableType, *, keys: bool) -> dict[str, Any] | None:
    """The rule as schema keywords for a value of the type; with keys, for the keys of the enclosing map."""
    if rule.kind is RuleKind.ALL:
        merged: dict[str, Any] = {}
        for part in rule.parameters["rules"]:
            fragment = _rule_schema(part, type_, keys=keys)
            if fragment:
                _merge(merged, fragment)
        return merged or None
    if rule.kind is RuleKind.ANY:
        parts = [_rule_schema(part, type_, keys=keys) for part in rule.parameters["rules"]]
        return None if None in parts else {"anyOf": parts}
    if rule.kind is RuleKind.NOT:
        inner = _rule_schema(rule.parameters["rule"], type_, keys=keys)
        return None if inner is None else {"not": inner}
    if rule.kind is RuleKind.UNSUPPORTED or keys != (rule.path[:1] == (KEY,)):
        return None
    path = rule.path[1:] if keys else rule.path
    target = _type_at(STRING if keys else type_, path)
    fragment = _check_schema(rule, target)
    if fragment is None:
        return None
    for step in reversed(path):
        fragment = {"properties": {step: fragment}}
    return fragment


def _check_schema(rule: Rule, type_: VariableType) -> dict[str, Any] | None:
    parameters = rule.parameters
    match rule.kind:
        case RuleKind.CHOICES:
            return {"enum": list(parameters["choices"])}
        case RuleKind.EQUALS:
            return {"const": parameters["value"]}
        case RuleKind.PATTERN:
            return {"pattern": parameters["pattern"]}
        case RuleKind.NULL:
            return {"type": "null"}
        case RuleKind.INTEGER:
            return {"multipleOf": 1}
        case RuleKind.RANGE:
            names = {
                "minimum": "minimum",
                "maximum": "maximum",
                "exclusive_minimum": "exclusiveMinimum",
                "exclusive_maximum": "exclusiveMaximum",
            }
            return {names[name]: bound for name, bound in parameters.items()}
        case RuleKind.LENGTH:
            words = {
                TypeKind.STRING: "Length",
                TypeKind.LIST: "Items",
                TypeKind.SET: "Items",
                TypeKind.TUPLE: "Items",
                TypeKind.MAP: "Properties",
                TypeKind.OBJECT: "Properties",
            }.get(type_.kind)
            if words is None:
                return None
            return {
                ("min" if name == "minimum" else "max") + words: bound for name, bound in parameters.items()
            }
        case RuleKind.EACH:
            body = parameters["rule"]
            element = type_.element or ANY
            values = _rule_schema(body, element, keys=False)
            if type_.kind is TypeKind.MAP:
                names = _rule_schema(body, element, keys=True)
                fragment = {"additionalProperties": values, "propertyNames": names}
                return {keyword: schema for keyword, schema in fragment.items() if schema} or None
            return {"items": values} if values else None
    return None


def _merge(target: dict[str, Any], fragment: dict[str, Any]) -> None:
    """Add the fragment's keywords to the schema, nesting where they meet and using allOf where they clash."""
    for keyword, value in fragment.items():
        if keyword not in target:
            target[keyword] = copy.deepcopy(value)
        elif keyword == "properties":
            for name, schema in value.items():
                _merge(target["properties"].setdefault(name, {}), schema)
        elif keyword in ("items", "additionalProperties", "propertyNames") and isinstance(
            target[keyword], dict
        ):
            _merge(target[keyword], value)
        elif keyword == "allOf":
            target["allOf"].extend(copy.deepcopy(value))
        elif target[keyword] != value:
            target.setdefault("allOf", []).append({keyword: copy.deepcopy(value)})
