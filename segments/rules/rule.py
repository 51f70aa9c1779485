"""Rule: one parsed AST with its normalised text and two evaluators."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from .nodes import Node, fields_of, render
from .parser import parse_node
from .predicate import Predicate, compile_predicate
from .schema import AttributeSpec, build_schema

if TYPE_CHECKING:
    from django.db.models import Q

    from .query import FieldMap

_NO_ATTRIBUTES: Mapping[str, AttributeSpec] = {}


def parse_rule(text: str, *, attributes: Mapping[str, AttributeSpec] = _NO_ATTRIBUTES) -> Rule:
    """Parse `text` against the built-in fields plus `attributes`; raise RuleError if invalid."""
    return Rule(parse_node(text, build_schema(attributes)))


class Rule:
    """An immutable, type-checked rule. Build it with parse_rule (or from an AST)."""

    __slots__ = ("_predicate", "fields", "node", "text")

    def __init__(self, node: Node) -> None:
        self.node = node
        self.text = render(node)
        self.fields = fields_of(node)
        # Compiled once here so that matches() costs only the closure calls.
        self._predicate: Predicate = compile_predicate(node)

    def matches(self, context: Mapping[str, Any], *, now: datetime) -> bool:
        """Does `context` (field name -> value; missing or None = not set) satisfy the rule?"""
        return self._predicate(context, _today(now))

    def to_q(self, *, now: datetime, field_map: FieldMap) -> Q:
        """A Q selecting the stored recipients that matches() would accept at `now`."""
        from .query import compile_q  # Django is only needed by callers that build queries.

        return compile_q(self.node, today=_today(now), field_map=field_map)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rule) and other.node == self.node

    def __hash__(self) -> int:
        return hash(self.node)

    def __repr__(self) -> str:
        return f"<Rule {self.text}>"

    def __str__(self) -> str:
        return self.text


def _today(now: datetime) -> date:
    # Relative dates resolve against the caller's clock and zone, the same for both evaluators.
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now.date()
