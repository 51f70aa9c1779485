"""AST -> one Python closure tree, built once per rule, so matching never walks the AST."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from .nodes import And, Compare, Contains, Member, Node, Not, Or, Presence, RelativeDate
from .schema import FieldSpec, FieldType

# A compiled rule takes the context and the evaluation day (for relative dates).
Predicate = Callable[[Mapping[str, Any], date], bool]

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


# ---- reading a context value as the field's type (None: treat as not set) ---------------------


def _number(value: Any) -> Any:
    # bool is an int subclass, but True is not a number anyone meant to compare with 18.
    return value if value.__class__ in (int, float, Decimal) else None


def _whole(value: Any) -> Any:
    if value.__class__ is int:
        return value
    # 18.0 is the same age as 18; 17.5 cannot be stored in an integer column, so it is unset.
    if value.__class__ is float and value.is_integer():
        return value
    return None


def _text(value: Any) -> Any:
    return value if isinstance(value, str) else None


def _date(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    # Stored dates are "YYYY-MM-DD" strings; other ISO shapes would compare wrongly in SQL.
    if isinstance(value, str) and len(value) == 10 and value[4] == value[7] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _time(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = time.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, time):
        # An aware time cannot be compared with a naive literal; local time is local anyway.
        return value.replace(tzinfo=None) if value.tzinfo else value
    return None


_READERS: dict[FieldType, Callable[[Any], Any]] = {
    FieldType.NUMBER: _number,
    FieldType.TEXT: _text,
    FieldType.CHOICE: _text,
    FieldType.DATE: _date,
    FieldType.TIME: _time,
}


# ---- compilation ------------------------------------------------------------------------------


def _reader(spec: FieldSpec) -> Callable[[Any], Any]:
    return _whole if spec.whole else _READERS[spec.type]


def compile_predicate(node: Node) -> Predicate:
    """Compile the AST into nested closures; each condition is False when its field is unset."""
    if isinstance(node, And):
        return _all([compile_predicate(operand) for operand in node.operands])
    if isinstance(node, Or):
        return _any([compile_predicate(operand) for operand in node.operands])
    if isinstance(node, Not):
        inner = compile_predicate(node.operand)
        return lambda context, today: not inner(context, today)
    return _CONDITIONS[type(node)](node)


def _all(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 2:
        first, second = predicates
        return lambda context, today: first(context, today) and second(context, today)

    def check(context: Mapping[str, Any], today: date) -> bool:
        return all(predicate(context, today) for predicate in predicates)

    return check


def _any(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 2:
        first, second = predicates
        return lambda context, today: first(context, today) or second(context, today)

    def check(context: Mapping[str, Any], today: date) -> bool:
        return any(predicate(context, today) for predicate in predicates)

    return check


def _compare(node: Compare) -> Predicate:
    name, read, test, value = (
        node.field.name,
        _reader(node.field),
        _OPERATORS[node.op],
        node.value,
    )
    if isinstance(value, RelativeDate):
        resolve = value.resolve

        def check_relative(context: Mapping[str, Any], today: date) -> bool:
            actual = read(context.get(name))
            return actual is not None and test(actual, resolve(today))

        return check_relative
    if node.op == "=" and isinstance(value, str):
        # The hot path for text and choices: a missing key or a non-string never equals a str.
        return lambda context, today: context.get(name) == value

    def check(context: Mapping[str, Any], today: date) -> bool:
        actual = read(context.get(name))
        return actual is not None and test(actual, value)

    return check


def _member(node: Member) -> Predicate:
    name, read, negated = node.field.name, _reader(node.field), node.negated
    if any(isinstance(value, RelativeDate) for value in node.values):
        return _member_relative(node)
    values = frozenset(node.values)

    def check(context: Mapping[str, Any], today: date) -> bool:
        actual = read(context.get(name))
        return actual is not None and (actual in values) != negated

    return check


def _member_relative(node: Member) -> Predicate:
    name, read, negated, literals = (
        node.field.name,
        _reader(node.field),
        node.negated,
        node.values,
    )

    def check(context: Mapping[str, Any], today: date) -> bool:
        actual = read(context.get(name))
        if actual is None:
            return False
        values = {v.resolve(today) if isinstance(v, RelativeDate) else v for v in literals}
        return (actual in values) != negated

    return check


def _contains(node: Contains) -> Predicate:
    name, needle = node.field.name, node.value.lower()

    def check(context: Mapping[str, Any], today: date) -> bool:
        actual = context.get(name)
        return isinstance(actual, str) and needle in actual.lower()

    return check


def _presence(node: Presence) -> Predicate:
    name, read, present = node.field.name, _reader(node.field), node.present
    return lambda context, today: (read(context.get(name)) is not None) == present


_CONDITIONS: dict[type, Callable[[Any], Predicate]] = {
    Compare: _compare,
    Member: _member,
    Contains: _contains,
    Presence: _presence,
}
