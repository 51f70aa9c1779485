"""Parsing: precedence, every operator, literals, normalised text and the AST shape."""

from datetime import date, time

import pytest
from hypothesis import given, settings

from segments.rules import AttributeSpec, FieldType, RelativeDate, Rule, parse_rule
from segments.rules.nodes import And, Compare, Contains, Member, Not, Or, Presence
from segments.rules.schema import BUILTIN_FIELDS, validate_attribute_name
from segments.rules.strategies import EXAMPLE_ATTRIBUTES, rule_nodes

ATTRIBUTES = {
    "release_date": AttributeSpec(FieldType.DATE),
    "risk_score": AttributeSpec(FieldType.NUMBER),
    "referral_source": AttributeSpec(FieldType.TEXT),
    "programme": AttributeSpec(FieldType.CHOICE, ("redirection", "help_wanted")),
}
AGE, COUNTRY, LANGUAGE, PLATFORM = (
    BUILTIN_FIELDS[n] for n in ("age", "country", "language", "platform")
)


def parse(text: str) -> Rule:
    return parse_rule(text, attributes=ATTRIBUTES)


def test_it_normalises_the_text_of_the_example_rule():
    rule = parse(
        'Country IN ("GB","IE")   AND age>=18 and (trigger = "search_blocked_term" OR '
        'platform = "forum") and NOT language = "de"'
    )
    assert rule.text == (
        'country in ("GB", "IE") and age >= 18 and '
        '(trigger = "search_blocked_term" or platform = "forum") and not language = "de"'
    )


def test_it_lists_each_field_once_in_sorted_order():
    rule = parse('platform = "forum" or age > 3 and (age < 9 or country is set)')
    assert rule.fields == ("age", "country", "platform")


def test_keywords_and_field_names_are_case_insensitive():
    assert parse('AGE > 3 AnD Country Is NoT SeT oR platform NOT IN ("x")') == parse(
        'age > 3 and country is not set or platform not in ("x")'
    )


def test_a_field_name_may_start_with_a_keyword():
    spec = {"android_app": AttributeSpec(FieldType.TEXT), "order_count": AttributeSpec("number")}
    rule = parse_rule('android_app = "x" and order_count > 1', attributes=spec)
    assert rule.fields == ("android_app", "order_count")


def test_not_binds_tighter_than_and():
    node = parse('not age = 1 and country = "GB"').node
    assert node == And((Not(Compare(AGE, "=", 1)), Compare(COUNTRY, "=", "GB")))


def test_and_binds_tighter_than_or():
    node = parse('age = 1 or age = 2 and country = "GB"').node
    expected_and = And((Compare(AGE, "=", 2), Compare(COUNTRY, "=", "GB")))
    assert node == Or((Compare(AGE, "=", 1), expected_and))


def test_parentheses_override_precedence():
    node = parse('(age = 1 or age = 2) and country = "GB"').node
    expected_or = Or((Compare(AGE, "=", 1), Compare(AGE, "=", 2)))
    assert node == And((expected_or, Compare(COUNTRY, "=", "GB")))


def test_not_applies_to_a_whole_parenthesised_group():
    node = parse("not (age = 1 or age = 2)").node
    assert node == Not(Or((Compare(AGE, "=", 1), Compare(AGE, "=", 2))))
    assert parse("not (age = 1 or age = 2)").text == "not (age = 1 or age = 2)"


def test_nested_ands_and_redundant_parentheses_flatten():
    rule = parse("age = 1 and (age = 2 and (age = 3)) and not not age = 4")
    assert rule.text == "age = 1 and age = 2 and age = 3 and not not age = 4"


@pytest.mark.parametrize("op", ["=", "!=", ">", ">=", "<", "<="])
def test_it_parses_every_comparison_operator(op):
    assert parse(f"age {op} 18").node == Compare(AGE, op, 18)


def test_in_and_not_in_take_a_list_of_values():
    assert parse('country in ("GB", "IE")').node == Member(COUNTRY, ("GB", "IE"))
    assert parse('country not in ("GB")').node == Member(COUNTRY, ("GB",), negated=True)


def test_is_set_and_is_not_set_test_presence():
    assert parse("age is set").node == Presence(AGE, present=True)
    assert parse("age is not set").node == Presence(AGE, present=False)


def test_tilde_means_contains():
    assert parse('platform ~ "For"').node == Contains(PLATFORM, "For")


def test_relative_dates_count_days_and_weeks_in_either_direction():
    assert parse("release_date <= -7d").node.value == RelativeDate(-7, "d")
    assert parse("release_date > +2W").node.value == RelativeDate(2, "w")
    assert parse("release_date > +2W").text == "release_date > +2w"


def test_absolute_dates_parse_bare_or_quoted():
    assert parse("release_date = 2026-01-31").node.value == date(2026, 1, 31)
    assert parse('release_date = "2026-01-31"').text == "release_date = 2026-01-31"


def test_local_time_takes_a_time_literal_or_a_quoted_time():
    assert parse("local_time >= 22:00").node.value == time(22, 0)
    assert parse('local_time < "7:30"').text == "local_time < 07:30"


def test_numbers_may_be_negative_or_decimal():
    assert parse("risk_score > -2.5").node.value == -2.5
    assert parse("risk_score > +3").text == "risk_score > 3"
    assert parse("risk_score < 0.00001").text == "risk_score < 0.00001"


def test_a_whole_number_written_with_a_decimal_point_is_a_whole_age():
    assert parse("age >= 18.0").text == "age >= 18"


def test_strings_keep_their_escapes_in_normalised_text():
    rule = parse(r'referral_source = "say \"hi\"\\ \u00e9\n"')
    assert rule.node.value == 'say "hi"\\ é\n'
    assert rule.text == r'referral_source = "say \"hi\"\\ é\n"'


def test_custom_attributes_of_every_type_parse():
    rule = parse(
        'release_date >= 2026-01-01 and risk_score in (1, 2.5) and referral_source ~ "help" '
        'and programme != "redirection"'
    )
    assert [spec.custom for spec in (op.field for op in rule.node.operands)] == [True] * 4


def test_rules_with_the_same_tree_are_equal_and_hash_alike():
    first, second = parse("age>1 AND age<9"), parse("age > 1 and age < 9")
    assert first == second
    assert hash(first) == hash(second)
    assert str(first) == "age > 1 and age < 9"


@settings(max_examples=150, deadline=None)
@given(node=rule_nodes(EXAMPLE_ATTRIBUTES))
def test_rendered_text_parses_back_to_the_same_tree(node):
    rule = Rule(node)
    reparsed = parse_rule(rule.text, attributes=EXAMPLE_ATTRIBUTES)
    assert reparsed.node == node
    assert reparsed.text == rule.text


@pytest.mark.parametrize("name", ["age", "and", "set", "Team", "9lives", "a__b", "class", ""])
def test_it_refuses_reserved_or_malformed_attribute_names(name):
    with pytest.raises(ValueError):
        validate_attribute_name(name)


def test_an_attribute_declaration_checks_its_choices():
    with pytest.raises(ValueError):
        AttributeSpec(FieldType.CHOICE)
    with pytest.raises(ValueError):
        AttributeSpec(FieldType.TEXT, ("a",))
    with pytest.raises(ValueError):
        AttributeSpec(FieldType.TIME)
    assert AttributeSpec("choice", ["a"]).choices == ("a",)
