"""Text -> AST: lark parses, then a small builder type-checks against the schema.

Every failure becomes a RuleError; lark's exceptions never reach the caller.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from datetime import date, time
from functools import cache
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedToken

from .errors import RuleError
from .nodes import (
    ORDERING_OPS,
    UNIT_DAYS,
    Compare,
    Contains,
    Member,
    Node,
    Not,
    Presence,
    RelativeDate,
    Value,
    conjoin,
    disjoin,
)
from .schema import FieldSpec, FieldType

MAX_LENGTH = 10_000
MAX_DEPTH = 50
# Beyond 2**53 JSON numbers lose precision and SQLite integers overflow; 10**15 is plenty.
MAX_NUMBER = 10**15

_TYPE_WORDS = {
    FieldType.TEXT: "text",
    FieldType.NUMBER: "a number",
    FieldType.DATE: "a date",
    FieldType.TIME: "a time",
    FieldType.CHOICE: "a choice",
}
_TYPE_HINTS = {
    FieldType.TEXT: "; put text in double quotes",
    FieldType.DATE: "; write dates as 2026-01-31 or -7d",
    FieldType.TIME: "; write times as 22:00",
}
# Codes are compared exactly, so a wrongly cased literal would silently never match.
_CODE_FORMATS = {
    "country": (re.compile(r"[A-Z]{2}"), "a country code", str.upper, '"GB"'),
    "language": (re.compile(r"[a-z]{2}"), "a language code", str.lower, '"de"'),
}
_UNSAFE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


@cache
def _lark() -> Lark:
    grammar = Path(__file__).with_name("grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr")


def parse_node(text: str, schema: Mapping[str, FieldSpec]) -> Node:
    """Parse and type-check `text`; raise RuleError for anything the author must fix."""
    if not isinstance(text, str):
        raise TypeError("a rule must be a string")
    if len(text) > MAX_LENGTH:
        raise RuleError(f"the rule is too long (over {MAX_LENGTH} characters)", 1, 1)
    if not text.strip():
        raise RuleError("the rule is empty", 1, 1)
    return _Builder(schema).build(_parse_tree(text), depth=0)


def _parse_tree(text: str) -> Tree:
    try:
        return _lark().parse(text)
    except UnexpectedCharacters as error:
        raise _character_error(error) from None
    except UnexpectedToken as error:
        raise _token_error(error, text) from None
    except LarkError as error:  # pragma: no cover - lark's LALR raises only the two above
        raise RuleError(f"the rule cannot be read ({type(error).__name__})", 1, 1) from None


# ---- syntax errors in plain words -----------------------------------------------------------

_WORDS = {
    "FIELD": "a field name",
    "OP": "a comparison operator",
    "IN": '"in"',
    "NOT": '"not"',
    "IS": '"is"',
    "SET": '"set"',
    "TILDE": '"~"',
    "VALUE": "a value",
    "STRING": "a string in double quotes",
    "LPAR": '"("',
    "RPAR": '")"',
    "COMMA": '","',
    "AND": '"and"',
    "OR": '"or"',
    "$END": "the end of the rule",
}
_VALUE_TERMINALS = frozenset({"STRING", "NUMBER", "DATE", "TIME", "RELDATE"})


def _expected_words(expected: set[str] | frozenset[str] | None) -> str:
    names = set(expected or ())
    # A lone STRING (after ~) deserves its own words; otherwise every literal is "a value".
    if names & _VALUE_TERMINALS and names & _VALUE_TERMINALS != {"STRING"}:
        names = (names - _VALUE_TERMINALS) | {"VALUE"}
    words = [word for name, word in _WORDS.items() if name in names]
    if len(words) < 2:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def _token_error(error: UnexpectedToken, text: str) -> RuleError:
    token = error.token
    expected = _expected_words(error.expected)
    if token.type == "$END":
        line, column = _end_position(text)
        return RuleError(
            f"unexpected end of rule at {line}:{column}; expected {expected}", line, column
        )
    found = token.value if token.type == "STRING" else f'"{token.value}"'
    message = f"unexpected {found} at {token.line}:{token.column}; expected {expected}"
    if token.type == "FIELD" and error.expected & _VALUE_TERMINALS:
        message += f'; put text in double quotes, e.g. "{token.value}"'
    return RuleError(message, token.line, token.column)


def _character_error(error: UnexpectedCharacters) -> RuleError:
    line, column, char = error.line, error.column, error.char
    if char == '"':
        return RuleError(f"unterminated string at {line}:{column}", line, column)
    message = f"unexpected character {json.dumps(char, ensure_ascii=False)} at {line}:{column}"
    if char == "'":
        message += "; strings use double quotes"
    elif error.allowed:
        message += f"; expected {_expected_words(error.allowed)}"
    return RuleError(message, line, column)


def _end_position(text: str) -> tuple[int, int]:
    body = text.rstrip()
    line_start = body.rfind("\n") + 1
    return body.count("\n") + 1, len(body) - line_start + 1


def _at(token: Token) -> str:
    return f"{token.line}:{token.column}"


def _error_at(token: Token, message: str, hint: str = "") -> RuleError:
    return RuleError(f"{message} at {_at(token)}{hint}", token.line, token.column)


def _value_error(token: Token, problem: str) -> RuleError:
    """An error about a literal, worded as `<literal> at <line:column> <problem>`."""
    return RuleError(f"{token.value} at {_at(token)} {problem}", token.line, token.column)


# ---- tree -> AST ----------------------------------------------------------------------------


class _Builder:
    def __init__(self, schema: Mapping[str, FieldSpec]) -> None:
        self.schema = schema

    def build(self, tree: Tree, depth: int) -> Node:
        kind = str(tree.data)
        children = tree.children
        if kind in ("disjunction", "conjunction"):
            operands = [self.build(child, depth) for child in children[::2]]
            return disjoin(operands) if kind == "disjunction" else conjoin(operands)
        if kind in ("negation", "group"):
            # The evaluators recurse, so nesting is bounded well below Python's stack limit.
            if depth >= MAX_DEPTH:
                raise _error_at(children[0], "the rule nests too deeply", f" (over {MAX_DEPTH})")
            inner = self.build(children[1], depth + 1)
            return Not(inner) if kind == "negation" else inner
        return self.condition(kind, children)

    def condition(self, kind: str, children: list) -> Node:
        field = self.field(children[0])
        if kind == "compare":
            self.check_operator(field, children[1])
            return Compare(field, str(children[1]), self.value(field, children[2]))
        if kind in ("member", "not_member"):
            values = tuple(self.value(field, token) for token in children[-1].children[1::2])
            return Member(field, values, negated=kind == "not_member")
        if kind == "contains":
            self.check_contains(field, children[1])
            return Contains(field, _decode_string(children[2]))
        return Presence(field, present=kind == "is_set")

    def field(self, token: Token) -> FieldSpec:
        name = token.value.lower()
        spec = self.schema.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, self.schema, n=1)
            hint = f'; did you mean "{close[0]}"?' if close else ""
            raise _error_at(token, f'unknown field "{name}"', hint)
        return spec

    def check_operator(self, field: FieldSpec, op: Token) -> None:
        if op.value in ORDERING_OPS and field.type in (FieldType.TEXT, FieldType.CHOICE):
            text_only = ", not in or ~" if field.type == FieldType.TEXT else " or not in"
            others = "=, !=, in" + text_only
            raise RuleError(
                f'"{op.value}" at {_at(op)} does not apply to field "{field.name}", '
                f"which is {_TYPE_WORDS[field.type]}; use {others}",
                op.line,
                op.column,
            )

    def check_contains(self, field: FieldSpec, op: Token) -> None:
        if field.type != FieldType.TEXT:
            raise RuleError(
                f'"~" (contains) at {_at(op)} works only on text fields; '
                f'field "{field.name}" is {_TYPE_WORDS[field.type]}',
                op.line,
                op.column,
            )

    def value(self, field: FieldSpec, token: Token) -> Value:
        literal = _decode_literal(token)
        converted = _CONVERTERS[field.type](literal)
        word = _TYPE_WORDS[field.type]
        if field.whole and converted is not None:
            converted, word = _as_whole(converted), "a whole number"
        if converted is None:
            raise RuleError(
                f'field "{field.name}" is {word}; {token.value} at {_at(token)} is not {word}'
                f"{_TYPE_HINTS.get(field.type, '')}",
                token.line,
                token.column,
            )
        _check_allowed(field, token, converted)
        return converted


# ---- literals -------------------------------------------------------------------------------


def _decode_literal(token: Token) -> Value:
    """The literal as written, before the field's type is considered."""
    kind = token.type
    if kind == "STRING":
        return _decode_string(token)
    if kind == "NUMBER":
        return _decode_number(token)
    if kind == "DATE":
        return _decode_or_fail(token, date.fromisoformat, "is not a valid date")
    if kind == "TIME":
        return _decode_or_fail(token, _parse_time, "is not a valid time")
    return _decode_relative_date(token)


def _decode_string(token: Token) -> str:
    try:
        # The token is a JSON string literal by construction; strict=False admits raw tabs.
        value = json.loads(token.value, strict=False)
    except ValueError:
        raise _error_at(
            token, "invalid escape in string", '; use \\" \\\\ \\n \\t or \\uXXXX'
        ) from None
    if _UNSAFE_CHARACTERS.search(value):
        # PostgreSQL text cannot hold NUL, and lone surrogates cannot be encoded.
        raise _error_at(token, "string contains a character that cannot be stored")
    return value


def _decode_number(token: Token) -> int | float:
    text = token.value
    number = float(text) if "." in text else int(text)
    if abs(number) >= MAX_NUMBER:
        raise _value_error(token, f"is too large; numbers must be below {MAX_NUMBER:,}")
    return number


def _decode_or_fail(token: Token, parse, problem: str) -> Value:
    try:
        return parse(token.value)
    except ValueError:
        raise _value_error(token, problem) from None


def _decode_relative_date(token: Token) -> RelativeDate:
    match = re.fullmatch(r"([+-]\d+)([a-z]+)", token.value, re.IGNORECASE)
    unit = match.group(2).lower()
    if unit not in UNIT_DAYS:
        raise _value_error(token, "is not a relative date; use d (days) or w (weeks), e.g. -7d")
    amount = int(match.group(1))
    if abs(amount) > 100_000:
        raise _value_error(token, "is too far away (at most 100000 days or weeks)")
    return RelativeDate(amount, unit)


def _parse_time(text: str) -> time:
    hours, minutes = text.split(":")
    # time() itself rejects 24:00 and 12:60; two-digit minutes are guaranteed by the grammar.
    return time(int(hours), int(minutes))


# ---- type checks ----------------------------------------------------------------------------
# Each converter returns the literal as the field's type, or None when it does not fit.


def _as_number(literal: Value) -> Value | None:
    return literal if isinstance(literal, int | float) else None


def _as_whole(number: int | float) -> int | None:
    if isinstance(number, float):
        return int(number) if number.is_integer() else None
    return number


def _as_text(literal: Value) -> Value | None:
    return literal if isinstance(literal, str) else None


def _as_date(literal: Value) -> Value | None:
    if isinstance(literal, RelativeDate | date) and not isinstance(literal, time):
        return literal
    # A quoted ISO date reads as a date too; fromisoformat alone would also take "20260131".
    if isinstance(literal, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", literal):
        try:
            return date.fromisoformat(literal)
        except ValueError:
            return None
    return None


def _as_time(literal: Value) -> Value | None:
    if isinstance(literal, time):
        return literal
    # "22:00" in quotes is the documented way to write a time, next to the bare 22:00.
    if isinstance(literal, str) and re.fullmatch(r"\d{1,2}:\d{2}", literal):
        try:
            return _parse_time(literal)
        except ValueError:
            return None
    return None


_CONVERTERS = {
    FieldType.NUMBER: _as_number,
    FieldType.TEXT: _as_text,
    FieldType.CHOICE: _as_text,
    FieldType.DATE: _as_date,
    FieldType.TIME: _as_time,
}


def _check_allowed(field: FieldSpec, token: Token, value: Value) -> None:
    if field.type == FieldType.CHOICE and value not in field.choices:
        close = difflib.get_close_matches(value, field.choices, n=1)
        if close:
            hint = f'; did you mean "{close[0]}"?'
        else:
            hint = "; allowed: " + ", ".join(f'"{choice}"' for choice in field.choices)
        raise _value_error(token, f'is not a value of field "{field.name}"{hint}')
    code_format = _CODE_FORMATS.get(field.name) if not field.custom else None
    if code_format and not code_format[0].fullmatch(value):
        pattern, word, fix, example = code_format
        fixed = fix(value)
        hint = f'; did you mean "{fixed}"?' if pattern.fullmatch(fixed) else f", e.g. {example}"
        raise _value_error(token, f"is not {word}{hint}")
