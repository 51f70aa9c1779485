"""AST -> django.db.models.Q over a recipient model, with the same two-valued semantics.

Strategy: push `not` down to the conditions (negation normal form), so the only SQL NOT we
emit sits directly on a comparison whose field is known to be set. Every condition becomes
`<field is set> AND <comparison>` or, negated, `<field is not set> OR <opposite comparison>`,
which is TRUE or FALSE for every row, never NULL, whatever Django does with `~Q` on JSON keys.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from functools import reduce
from types import MappingProxyType
from typing import Any

from django.db.models import Q

from .nodes import And, Compare, Contains, Member, Node, Not, Or, Presence, RelativeDate, Value
from .schema import BUILTIN_FIELDS, FieldSpec

_LOOKUPS = {"=": "exact", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
# The opposite of an ordering comparison between two set values of one type.
_OPPOSITES = {">": "<=", ">=": "<", "<": ">=", "<=": ">"}


def always_true() -> Q:
    return Q(pk__isnull=False)


def always_false() -> Q:
    # Django turns an empty __in into "no rows" without querying, also inside OR and NOT.
    return Q(pk__in=[])


@dataclass(frozen=True)
class FieldMap:
    """Where each field lives on the recipient model.

    `columns` maps built-in fields to model lookups (e.g. {"country": "country"}); a built-in
    field without a column is never set for stored recipients. Custom attributes are keys of
    the JSONField at lookup `attributes`.
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    attributes: str = "attributes"

    def __post_init__(self) -> None:
        unknown = set(self.columns) - set(BUILTIN_FIELDS)
        if unknown:
            raise ValueError(f"FieldMap columns name unknown built-in fields: {sorted(unknown)}")
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))


def compile_q(node: Node, *, today: date, field_map: FieldMap) -> Q:
    """The Q that selects exactly the recipients the predicate would match on `today`."""
    result = _Compiler(today, field_map).compile(node, negated=False)
    if isinstance(result, bool):
        # Constants are folded away inside the tree; only a constant rule needs one of these.
        return always_true() if result else always_false()
    return result


# A partial result: a Q, or a constant that has not been turned into SQL yet.
_Part = Q | bool


def _conjunction(parts: list[_Part]) -> _Part:
    if any(part is False for part in parts):
        return False
    queries = [part for part in parts if part is not True]
    return reduce(operator.and_, queries) if queries else True


def _disjunction(parts: list[_Part]) -> _Part:
    if any(part is True for part in parts):
        return True
    queries = [part for part in parts if part is not False]
    return reduce(operator.or_, queries) if queries else False


class _Compiler:
    def __init__(self, today: date, field_map: FieldMap) -> None:
        self.today = today
        self.field_map = field_map

    def compile(self, node: Node, *, negated: bool) -> _Part:
        if isinstance(node, Not):
            return self.compile(node.operand, negated=not negated)
        if isinstance(node, And | Or):
            parts = [self.compile(operand, negated=negated) for operand in node.operands]
            # De Morgan: a negated and is an or of negations, and vice versa.
            return _conjunction(parts) if isinstance(node, And) != negated else _disjunction(parts)
        return self.condition(node, negated=negated)

    def condition(self, node: Node, *, negated: bool) -> _Part:
        path = self.path(node.field)
        if path is None:
            # Never set: only `is not set` holds, and `not` flips the constant.
            return (isinstance(node, Presence) and not node.present) != negated
        is_set, not_set = self.presence(path, node.field)
        if isinstance(node, Presence):
            return is_set if node.present != negated else not_set
        positive, opposite = self.comparison(node, path)
        return not_set | opposite if negated else is_set & positive

    def path(self, spec: FieldSpec) -> str | None:
        if spec.custom:
            return f"{self.field_map.attributes}__{spec.name}"
        return self.field_map.columns.get(spec.name)

    def presence(self, path: str, spec: FieldSpec) -> tuple[Q, Q]:
        """(is set, is not set) for a column, or for a JSON key where JSON null means unset."""
        missing = Q(**{f"{path}__isnull": True})
        if not spec.custom:
            return Q(**{f"{path}__isnull": False}), missing
        # On JSON keys `exact=None` matches a JSON null value and `isnull` a missing key.
        json_null = Q(**{f"{path}__exact": None})
        return Q(**{f"{path}__isnull": False}) & ~json_null, missing | json_null

    def comparison(self, node: Node, path: str) -> tuple[Q, Q]:
        """(the comparison, its opposite), both meaningful only when the field is set."""
        if isinstance(node, Compare):
            return self.compare(node, path)
        if isinstance(node, Member):
            values = [self.db_value(value, node.field) for value in node.values]
            inside = Q(**{f"{path}__in": values})
            return (~inside, inside) if node.negated else (inside, ~inside)
        assert isinstance(node, Contains)
        contains = Q(**{f"{path}__icontains": node.value})
        return contains, ~contains

    def compare(self, node: Compare, path: str) -> tuple[Q, Q]:
        value = self.db_value(node.value, node.field)
        if node.op in ("=", "!="):
            equal = Q(**{f"{path}__exact": value})
            return (equal, ~equal) if node.op == "=" else (~equal, equal)
        positive = Q(**{f"{path}__{_LOOKUPS[node.op]}": value})
        opposite = Q(**{f"{path}__{_LOOKUPS[_OPPOSITES[node.op]]}": value})
        return positive, opposite

    def db_value(self, value: Value, spec: FieldSpec) -> Any:
        if isinstance(value, RelativeDate):
            value = value.resolve(self.today)
        if spec.custom and isinstance(value, date | time):
            # JSON holds dates as "YYYY-MM-DD": their string order is their date order.
            return value.isoformat()
        return value
