"""Hypothesis strategies for random valid rules and contexts over a schema (tests only).

Rules and contexts draw from the same small pools of values, so that equalities, ranges and
substrings actually hit. Typical property test (the DB half belongs with the Recipient model):

    @given(rule=rules(ATTRIBUTES), context=stored_contexts(ATTRIBUTES, FIELD_MAP))
    def test_q_and_predicate_agree(rule, context): ...
        columns, attributes = storage_values(context, field_map=FIELD_MAP)
        ... create the recipient, then compare rule.matches(context, now=ANCHOR)
        ... with queryset.filter(rule.to_q(now=ANCHOR, field_map=FIELD_MAP)).exists()
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from .nodes import (
    COMPARE_OPS,
    Compare,
    Contains,
    Member,
    Node,
    Not,
    Presence,
    RelativeDate,
    conjoin,
    disjoin,
)
from .query import FieldMap
from .rule import Rule
from .schema import AttributeSpec, FieldSpec, FieldType, build_schema

# Relative dates resolve against this instant; pass it as `now` to both evaluators.
ANCHOR = datetime(2026, 3, 15, 12, 30, tzinfo=UTC)

EXAMPLE_ATTRIBUTES: Mapping[str, AttributeSpec] = {
    "release_date": AttributeSpec(FieldType.DATE),
    "risk_score": AttributeSpec(FieldType.NUMBER),
    "referral_source": AttributeSpec(FieldType.TEXT),
    "programme": AttributeSpec(FieldType.CHOICE, ("redirection", "help_wanted", "shore")),
}

# ASCII only: SQLite folds case for ASCII alone. %, _ and \ exercise LIKE escaping.
_TEXT_ALPHABET = string.ascii_letters + string.digits + ' _%\\"-'
_TEXT_POOL = ("forum", "Forum", "search_blocked_term", "upload_blocked", "chat", "", "50%_off")
_NEEDLES = ("or", "FOR", "blocked", "", "%", "_", "\\")
_CODE_POOLS = {"country": ("GB", "IE", "DE", "US"), "language": ("en", "de", "ga", "fr")}
_NUMBER_POOL = (-2.25, 0, 0.5, 17, 17.5, 18, 18.0, 25)
_ORDERING_TYPES = frozenset({FieldType.NUMBER, FieldType.DATE, FieldType.TIME})


def rule_nodes(
    attributes: Mapping[str, AttributeSpec] = EXAMPLE_ATTRIBUTES,
    *,
    fields: Iterable[str] | None = None,
    max_leaves: int = 8,
) -> SearchStrategy[Node]:
    """Random valid ASTs, flattened the way the parser builds them."""
    specs = _specs(attributes, fields)
    # one_of over prebuilt strategies: flatmap would rebuild a strategy on every draw.
    leaves = st.one_of([_conditions(spec) for spec in specs])
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            inner.map(Not),
            st.lists(inner, min_size=2, max_size=3).map(conjoin),
            st.lists(inner, min_size=2, max_size=3).map(disjoin),
        ),
        max_leaves=max_leaves,
    )


def rules(
    attributes: Mapping[str, AttributeSpec] = EXAMPLE_ATTRIBUTES,
    *,
    fields: Iterable[str] | None = None,
    max_leaves: int = 8,
) -> SearchStrategy[Rule]:
    return rule_nodes(attributes, fields=fields, max_leaves=max_leaves).map(Rule)


def rule_texts(
    attributes: Mapping[str, AttributeSpec] = EXAMPLE_ATTRIBUTES,
    *,
    fields: Iterable[str] | None = None,
) -> SearchStrategy[str]:
    return rules(attributes, fields=fields).map(lambda rule: rule.text)


def contexts(
    attributes: Mapping[str, AttributeSpec] = EXAMPLE_ATTRIBUTES,
    *,
    fields: Iterable[str] | None = None,
) -> SearchStrategy[dict[str, Any]]:
    """Random well-typed contexts; each field is absent, None or a value from the pools."""
    specs = _specs(attributes, fields)
    entries = {
        spec.name: st.one_of(st.just(_ABSENT), st.none(), _context_values(spec)) for spec in specs
    }
    return st.fixed_dictionaries(entries).map(
        lambda drawn: {name: value for name, value in drawn.items() if value is not _ABSENT}
    )


def stored_contexts(
    attributes: Mapping[str, AttributeSpec], field_map: FieldMap
) -> SearchStrategy[dict[str, Any]]:
    """Contexts holding only what a stored recipient can hold: mapped columns and attributes."""
    return contexts(attributes, fields=[*field_map.columns, *attributes])


def storage_values(
    context: Mapping[str, Any], *, attributes: Mapping[str, AttributeSpec], field_map: FieldMap
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(column values, attributes JSON) storing `context` the way the Q compiler expects.

    None for an attribute is kept as JSON null on purpose: it must read as "not set".
    """
    columns = {column: context.get(name) for name, column in field_map.columns.items()}
    stored = {name: _json_value(context[name]) for name in attributes if name in context}
    return columns, stored


# ---- internals --------------------------------------------------------------------------------

_ABSENT = object()


def _specs(attributes: Mapping[str, AttributeSpec], fields: Iterable[str] | None) -> list:
    schema = build_schema(attributes)
    names = sorted(schema) if fields is None else sorted(set(fields))
    return [schema[name] for name in names]


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _conditions(spec: FieldSpec) -> SearchStrategy[Node]:
    literal = _literals(spec)
    ops = sorted(COMPARE_OPS) if spec.type in _ORDERING_TYPES else ["!=", "="]
    options = [
        st.builds(Compare, st.just(spec), st.sampled_from(ops), literal),
        st.builds(
            Member,
            st.just(spec),
            st.lists(literal, min_size=1, max_size=3).map(tuple),
            st.booleans(),
        ),
        st.builds(Presence, st.just(spec), st.booleans()),
    ]
    if spec.type == FieldType.TEXT:
        options.append(st.builds(Contains, st.just(spec), _needles()))
    return st.one_of(options)


def _literals(spec: FieldSpec) -> SearchStrategy[Any]:
    if spec.type == FieldType.DATE:
        return st.one_of(
            _dates(), st.builds(RelativeDate, st.integers(-5, 5), st.sampled_from("dw"))
        )
    return _context_values(spec, as_literal=True)


def _context_values(spec: FieldSpec, *, as_literal: bool = False) -> SearchStrategy[Any]:
    if spec.type == FieldType.NUMBER:
        whole_pool = [int(n) for n in _NUMBER_POOL if float(n).is_integer()]
        pool = whole_pool if spec.whole else _NUMBER_POOL
        return st.sampled_from(pool)
    if spec.type == FieldType.DATE:
        return _dates() if as_literal else st.one_of(_dates(), _dates().map(date.isoformat))
    if spec.type == FieldType.TIME:
        times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
        return times if as_literal else st.one_of(times, times.map(lambda t: t.strftime("%H:%M")))
    if spec.type == FieldType.CHOICE:
        # A stored value outside the declared choices must simply never match.
        return st.sampled_from(spec.choices + (() if as_literal else ("retired_value",)))
    if spec.name in _CODE_POOLS and not spec.custom:
        return st.sampled_from(_CODE_POOLS[spec.name])
    return st.one_of(st.sampled_from(_TEXT_POOL), st.text(_TEXT_ALPHABET, max_size=6))


def _dates() -> SearchStrategy[date]:
    today = ANCHOR.date()
    return st.integers(-40, 40).map(lambda days: today + timedelta(days=days))


def _needles() -> SearchStrategy[str]:
    return st.one_of(st.sampled_from(_NEEDLES), st.text(_TEXT_ALPHABET, max_size=3))
