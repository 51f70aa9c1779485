"""Rule.to_q: the Q shape, and agreement with matches() under SQL's three-valued logic.

No database here. The agreement test runs the Q through a small SQL-like interpreter in which
a comparison with NULL is UNKNOWN and NOT UNKNOWN stays UNKNOWN. The real-database agreement
test (SQLite and PostgreSQL) belongs with the Recipient model; see segments.rules.strategies.
"""

from datetime import UTC, datetime

import pytest
from django.db.models import Q
from hypothesis import given, settings

from segments.rules import AttributeSpec, FieldMap, FieldType, parse_rule
from segments.rules.strategies import (
    ANCHOR,
    EXAMPLE_ATTRIBUTES,
    rules,
    storage_values,
    stored_contexts,
)

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)
COLUMNS = FieldMap(columns={"age": "age", "country": "country", "platform": "platform"})
ATTRIBUTES = {"release_date": AttributeSpec(FieldType.DATE), "score": AttributeSpec("number")}


def q_for(text: str, field_map: FieldMap = COLUMNS) -> Q:
    return parse_rule(text, attributes=ATTRIBUTES).to_q(now=NOW, field_map=field_map)


def test_a_comparison_on_a_column_is_guarded_by_is_not_null():
    assert q_for("age >= 18") == Q(age__isnull=False) & Q(age__gte=18)


def test_a_negated_comparison_becomes_not_set_or_the_opposite():
    assert q_for("not age >= 18") == Q(age__isnull=True) | Q(age__lt=18)
    assert q_for('not country = "GB"') == Q(country__isnull=True) | ~Q(country__exact="GB")


def test_not_equal_requires_the_field_to_be_set():
    assert q_for('country != "GB"') == Q(country__isnull=False) & ~Q(country__exact="GB")


def test_not_is_pushed_through_and_and_or():
    assert q_for("not (age > 1 and age < 9)") == (
        (Q(age__isnull=True) | Q(age__lte=1)) | (Q(age__isnull=True) | Q(age__gte=9))
    )


def test_membership_and_contains_use_in_and_icontains():
    assert q_for('country not in ("GB", "IE")') == (
        Q(country__isnull=False) & ~Q(country__in=["GB", "IE"])
    )
    assert q_for('platform ~ "For"') == Q(platform__isnull=False) & Q(platform__icontains="For")


def test_presence_on_a_column_is_isnull():
    assert q_for("age is set") == Q(age__isnull=False)
    assert q_for("not age is not set") == Q(age__isnull=False)


def test_attributes_are_json_keys_where_json_null_means_not_set():
    is_set = Q(attributes__score__isnull=False) & ~Q(attributes__score__exact=None)
    assert q_for("score > 2") == is_set & Q(attributes__score__gt=2)
    assert q_for("score is not set") == (
        Q(attributes__score__isnull=True) | Q(attributes__score__exact=None)
    )


def test_dates_in_attributes_compare_as_iso_strings_resolved_against_now():
    q = q_for("release_date <= -7d")
    assert q.children[-1] == ("attributes__release_date__lte", "2026-03-08")
    assert q_for("release_date = 2026-01-31").children[-1] == (
        "attributes__release_date__exact",
        "2026-01-31",
    )


def test_the_attributes_field_and_columns_can_be_renamed():
    field_map = FieldMap(columns={"age": "profile__age"}, attributes="data")
    assert q_for("age = 3 and score = 1", field_map) == (
        Q(profile__age__isnull=False) & Q(profile__age__exact=3)
    ) & (Q(data__score__isnull=False) & ~Q(data__score__exact=None) & Q(data__score__exact=1))


def test_a_field_without_a_column_is_never_set():
    assert q_for('trigger = "upload_blocked"') == Q(pk__in=[])
    assert q_for('not trigger = "upload_blocked"') == Q(pk__isnull=False)
    assert q_for("trigger is not set") == Q(pk__isnull=False)


def test_constant_parts_fold_away():
    assert q_for('age > 1 or trigger = "x"') == Q(age__isnull=False) & Q(age__gt=1)
    assert q_for('age > 1 and trigger = "x"') == Q(pk__in=[])
    assert q_for("age > 1 or trigger is not set") == Q(pk__isnull=False)


def test_a_field_map_refuses_unknown_built_in_fields():
    with pytest.raises(ValueError, match="agee"):
        FieldMap(columns={"agee": "age"})


def test_to_q_needs_a_timezone_aware_now():
    with pytest.raises(ValueError):
        parse_rule("age > 1").to_q(now=datetime(2026, 1, 1), field_map=COLUMNS)


# ---- agreement under three-valued logic -------------------------------------------------------

UNKNOWN = None  # SQL's third truth value
MISSING = object()  # a JSON key that is absent, or a NULL column

FULL_MAP = FieldMap(
    columns={name: name for name in ("stage", "country", "language", "age", "platform")}
)


def sql_not(value):
    return UNKNOWN if value is UNKNOWN else not value


def sql_and(values):
    values = list(values)
    return False if False in values else (UNKNOWN if UNKNOWN in values else True)


def sql_or(values):
    values = list(values)
    return True if True in values else (UNKNOWN if UNKNOWN in values else False)


class Row:
    """One stored recipient; `json_null` is what comparing a JSON null yields (vendor-specific)."""

    def __init__(self, columns, attributes, json_null):
        self.columns, self.attributes, self.json_null = columns, attributes, json_null

    def evaluate(self, q):
        if isinstance(q, tuple):
            return self.lookup(*q)
        combine = sql_and if q.connector == Q.AND else sql_or
        result = combine(self.evaluate(child) for child in q.children)
        return sql_not(result) if q.negated else result

    def lookup(self, path, operand):
        *parts, lookup = path.split("__")
        if parts == ["pk"]:
            return lookup == "isnull" and operand is False  # pk is never null; pk in () is empty
        if parts[0] == "attributes":
            return self.json_lookup(self.attributes.get(parts[1], MISSING), lookup, operand)
        value = self.columns.get(parts[0])
        if lookup == "isnull":
            return (value is None) == operand
        return UNKNOWN if value is None else compare(value, lookup, operand)

    def json_lookup(self, value, lookup, operand):
        if lookup == "isnull":  # Django: has_key, so a JSON null counts as present
            return (value is MISSING) == operand
        if value is MISSING:
            return UNKNOWN
        if value is None:
            return (operand is None) if lookup == "exact" else self.json_null
        if lookup == "exact" and operand is None:
            return False
        return compare(value, lookup, operand)


def compare(value, lookup, operand):
    if lookup == "icontains":
        return operand.lower() in value.lower()
    if lookup == "in":
        return value in operand
    return {
        "exact": value == operand,
        "gt": value > operand,
        "gte": value >= operand,
        "lt": value < operand,
        "lte": value <= operand,
    }[lookup]


@pytest.mark.parametrize("json_null", [True, False, UNKNOWN])
@settings(max_examples=100, deadline=None)
@given(
    rule=rules(EXAMPLE_ATTRIBUTES, fields=[*FULL_MAP.columns, *EXAMPLE_ATTRIBUTES, "trigger"]),
    context=stored_contexts(EXAMPLE_ATTRIBUTES, FULL_MAP),
)
def test_the_q_selects_exactly_what_the_predicate_matches(json_null, rule, context):
    columns, attributes = storage_values(context, attributes=EXAMPLE_ATTRIBUTES, field_map=FULL_MAP)
    row = Row(columns, attributes, json_null)
    selected = row.evaluate(rule.to_q(now=ANCHOR, field_map=FULL_MAP)) is True
    assert selected == rule.matches(context, now=ANCHOR)
