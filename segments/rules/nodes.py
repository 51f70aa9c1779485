"""The rule AST: small frozen dataclasses that both evaluators walk, and its canonical text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Literal, TypeAlias

from .schema import FieldSpec

Unit = Literal["d", "w"]
UNIT_DAYS: dict[str, int] = {"d": 1, "w": 7}

ORDERING_OPS = frozenset({">", ">=", "<", "<="})
COMPARE_OPS = frozenset({"=", "!="}) | ORDERING_OPS


@dataclass(frozen=True, slots=True)
class RelativeDate:
    """A date relative to the evaluation day, e.g. -7d; the unit is kept for rendering."""

    amount: int
    unit: Unit

    def resolve(self, today: date) -> date:
        return today + timedelta(days=self.amount * UNIT_DAYS[self.unit])


Value: TypeAlias = str | int | float | date | time | RelativeDate


@dataclass(frozen=True, slots=True)
class Compare:
    field: FieldSpec
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class Member:
    field: FieldSpec
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Contains:
    field: FieldSpec
    value: str


@dataclass(frozen=True, slots=True)
class Presence:
    field: FieldSpec
    present: bool


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]


Condition: TypeAlias = Compare | Member | Contains | Presence
Node: TypeAlias = Condition | Not | And | Or


def conjoin(operands: list[Node] | tuple[Node, ...]) -> Node:
    """And of the operands, flattened, so that `a and (b and c)` has one canonical shape."""
    return _join(And, operands)


def disjoin(operands: list[Node] | tuple[Node, ...]) -> Node:
    """Or of the operands, flattened like conjoin."""
    return _join(Or, operands)


def _join(kind: type[And] | type[Or], operands: list[Node] | tuple[Node, ...]) -> Node:
    flat: list[Node] = []
    for operand in operands:
        flat.extend(operand.operands if isinstance(operand, kind) else (operand,))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def fields_of(node: Node) -> tuple[str, ...]:
    """The sorted names of the fields a rule reads."""
    return tuple(sorted({spec.name for spec in _field_specs(node)}))


def _field_specs(node: Node) -> list[FieldSpec]:
    if isinstance(node, And | Or):
        return [spec for operand in node.operands for spec in _field_specs(operand)]
    if isinstance(node, Not):
        return _field_specs(node.operand)
    return [node.field]


# ---- canonical text -------------------------------------------------------------------------

_PRECEDENCE = {Or: 1, And: 2, Not: 3}


def render(node: Node) -> str:
    """The normalised text of a rule: lower-case keywords, single spaces, minimal parentheses.

    Parsing the result gives back an equal AST (for flattened trees, see conjoin).
    """
    if isinstance(node, And | Or):
        word = " and " if isinstance(node, And) else " or "
        return word.join(_render_child(operand, node) for operand in node.operands)
    if isinstance(node, Not):
        return "not " + _render_child(node.operand, node)
    return _render_condition(node)


def _render_child(child: Node, parent: Node) -> str:
    text = render(child)
    child_rank = _PRECEDENCE.get(type(child), 4)
    parent_rank = _PRECEDENCE[type(parent)]
    # `not not x` needs no parentheses, but an equal-rank and/or child does: `a or (b or c)`
    # only arises from unflattened trees and must keep its shape.
    needs_parentheses = child_rank < parent_rank or (
        child_rank == parent_rank and not isinstance(parent, Not)
    )
    return f"({text})" if needs_parentheses else text


def _render_condition(node: Condition) -> str:
    name = node.field.name
    if isinstance(node, Compare):
        return f"{name} {node.op} {render_value(node.value)}"
    if isinstance(node, Member):
        values = ", ".join(render_value(value) for value in node.values)
        return f"{name} {'not in' if node.negated else 'in'} ({values})"
    if isinstance(node, Contains):
        return f"{name} ~ {render_value(node.value)}"
    return f"{name} is {'set' if node.present else 'not set'}"


def render_value(value: Value) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, RelativeDate):
        return f"{value.amount:+d}{value.unit}"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    # Decimal's "f" format never uses an exponent, which the grammar cannot read back.
    return f"{Decimal(repr(value)):f}"
