"""Rule.matches: every operator, missing values, dates against `now`, and a reference check."""

import operator
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings

from segments.rules import AttributeSpec, FieldType, RelativeDate, Rule, parse_rule
from segments.rules.nodes import And, Contains, Member, Not, Or, Presence
from segments.rules.strategies import ANCHOR, EXAMPLE_ATTRIBUTES, contexts, rule_nodes

NOW = datetime(2026, 3, 15, 23, 30, tzinfo=UTC)
ATTRIBUTES = {
    "release_date": AttributeSpec(FieldType.DATE),
    "risk_score": AttributeSpec(FieldType.NUMBER),
    "referral_source": AttributeSpec(FieldType.TEXT),
}


def matches(text: str, context: dict, now: datetime = NOW) -> bool:
    return parse_rule(text, attributes=ATTRIBUTES).matches(context, now=now)


@pytest.mark.parametrize(
    ("op", "results"),
    [
        ("=", (False, True, False)),
        ("!=", (True, False, True)),
        (">", (False, False, True)),
        (">=", (False, True, True)),
        ("<", (True, False, False)),
        ("<=", (True, True, False)),
    ],
)
def test_every_comparison_operator_compares_numbers(op, results):
    assert tuple(matches(f"age {op} 18", {"age": age}) for age in (17, 18, 19)) == results


def test_the_example_rule_matches_a_fitting_context():
    rule = parse_rule(
        'country in ("GB", "IE") and age >= 18 and '
        '(trigger = "search_blocked_term" or platform = "forum") and not language = "de"'
    )
    context = {"country": "IE", "age": 30, "trigger": "upload_blocked", "platform": "forum"}
    assert rule.matches(context, now=NOW)
    assert not rule.matches({**context, "language": "de"}, now=NOW)
    assert not rule.matches({**context, "platform": "chat"}, now=NOW)


def test_text_equality_is_exact_but_contains_ignores_case():
    assert not matches('platform = "forum"', {"platform": "Forum"})
    assert matches('platform ~ "ORU"', {"platform": "Forum"})
    assert not matches('platform ~ "xyz"', {"platform": "Forum"})


def test_an_empty_needle_is_contained_in_any_set_text():
    assert matches('platform ~ ""', {"platform": ""})
    assert not matches('platform ~ ""', {})


def test_in_and_not_in_test_membership():
    assert matches('country in ("GB", "IE")', {"country": "IE"})
    assert not matches('country not in ("GB", "IE")', {"country": "IE"})
    assert matches('country not in ("GB", "IE")', {"country": "DE"})
    assert matches("age in (18, 19)", {"age": 19.0})


def test_precedence_decides_the_result():
    context = {"age": 1}
    assert matches("age = 1 or age = 2 and age = 3", context)
    assert not matches("(age = 1 or age = 2) and age = 3", context)
    assert not matches("not age = 1 and age = 1", context)


# ---- missing values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "age = 1",
        "age != 1",
        "age > 1",
        "age < 1",
        "age in (1)",
        "age not in (1)",
        'platform ~ ""',
        "age is set",
    ],
)
def test_every_condition_on_a_missing_field_is_false(text):
    assert not matches(text, {})
    assert not matches(text, {"age": None, "platform": None})


def test_only_is_not_set_holds_for_a_missing_field():
    assert matches("age is not set", {})
    assert matches("age is not set", {"age": None})
    assert not matches("age is not set", {"age": 0})


def test_not_negates_a_condition_on_a_missing_field_so_it_becomes_true():
    assert matches('not language = "de"', {})
    assert not matches('language != "de"', {})


def test_a_value_of_the_wrong_type_counts_as_not_set():
    assert not matches("age >= 18", {"age": "30"})
    assert not matches("age >= 0", {"age": True})
    assert matches("age is not set", {"age": [18]})
    assert not matches('platform ~ "1"', {"platform": 12})
    assert not matches("release_date < 2030-01-01", {"release_date": "soon"})


def test_a_fractional_age_in_a_context_counts_as_not_set():
    assert matches("age is not set", {"age": 17.5})
    assert matches("age = 18", {"age": 18.0})


# ---- dates and times --------------------------------------------------------------------------


def test_relative_dates_resolve_against_the_day_of_now():
    week_ago = NOW.date() - timedelta(days=7)
    assert matches("release_date <= -7d", {"release_date": week_ago})
    assert not matches("release_date <= -7d", {"release_date": week_ago + timedelta(days=1)})
    assert matches("release_date = +2w", {"release_date": NOW.date() + timedelta(days=14)})


def test_the_day_of_now_is_taken_in_the_zone_now_carries():
    # 23:30 UTC is already the next day in Auckland.
    auckland = NOW.astimezone(timezone(timedelta(hours=13)))
    assert matches("release_date = -0d", {"release_date": date(2026, 3, 16)}, now=auckland)
    assert not matches("release_date = -0d", {"release_date": date(2026, 3, 16)})


def test_relative_dates_work_inside_lists():
    context = {"release_date": NOW.date() - timedelta(days=14)}
    assert matches("release_date in (-1w, -2w)", context)
    assert not matches("release_date not in (-1w, -2w)", context)


def test_context_dates_may_be_dates_datetimes_or_iso_strings():
    for value in (date(2026, 1, 31), datetime(2026, 1, 31, 8, tzinfo=UTC), "2026-01-31"):
        assert matches("release_date = 2026-01-31", {"release_date": value})


def test_local_time_compares_with_times_or_hh_mm_strings():
    assert matches("local_time >= 22:00", {"local_time": "22:30"})
    assert matches('local_time < "07:00"', {"local_time": time(6, 59)})
    assert not matches("local_time >= 22:00", {"local_time": "21:59"})
    assert matches("local_time = 8:00", {"local_time": time(8, 0, tzinfo=UTC)})


def test_now_must_be_timezone_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_rule("age > 1").matches({}, now=datetime(2026, 1, 1))


# ---- the compiled closures agree with a plain tree walk ---------------------------------------


def reference(node, context, today):
    """The semantics in the package docstring, written as directly as possible."""
    if isinstance(node, And):
        return all(reference(op, context, today) for op in node.operands)
    if isinstance(node, Or):
        return any(reference(op, context, today) for op in node.operands)
    if isinstance(node, Not):
        return not reference(node.operand, context, today)
    actual = typed(node.field, context.get(node.field.name))
    if isinstance(node, Presence):
        return (actual is not None) == node.present
    if actual is None:
        return False
    if isinstance(node, Contains):
        return node.value.lower() in actual.lower()
    if isinstance(node, Member):
        return (actual in [resolve(v, today) for v in node.values]) != node.negated
    return OPERATORS[node.op](actual, resolve(node.value, today))


OPERATORS = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def resolve(value, today):
    return value.resolve(today) if isinstance(value, RelativeDate) else value


def typed(spec, value):
    if value is None:
        return None
    if spec.type == FieldType.DATE:
        return date.fromisoformat(value) if isinstance(value, str) else value
    if spec.type == FieldType.TIME:
        return time.fromisoformat(value) if isinstance(value, str) else value
    return value


@settings(max_examples=250, deadline=None)
@given(node=rule_nodes(EXAMPLE_ATTRIBUTES), context=contexts(EXAMPLE_ATTRIBUTES))
def test_the_compiled_predicate_agrees_with_a_plain_tree_walk(node, context):
    assert Rule(node).matches(context, now=ANCHOR) == reference(node, context, ANCHOR.date())


@settings(max_examples=100, deadline=None)
@given(node=rule_nodes(EXAMPLE_ATTRIBUTES), context=contexts(EXAMPLE_ATTRIBUTES))
def test_not_is_exactly_the_negation_of_a_rule(node, context):
    assert Rule(Not(node)).matches(context, now=ANCHOR) != Rule(node).matches(context, now=ANCHOR)
