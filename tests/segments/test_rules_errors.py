"""Every way a rule can be wrong gives one RuleError with a plain sentence and a position."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segments.rules import AttributeSpec, FieldType, RuleError, parse_rule

ATTRIBUTES = {
    "release_date": AttributeSpec(FieldType.DATE),
    "programme": AttributeSpec(FieldType.CHOICE, ("redirection", "help_wanted")),
}


def error_for(text: str) -> RuleError:
    with pytest.raises(RuleError) as caught:
        parse_rule(text, attributes=ATTRIBUTES)
    return caught.value


def test_it_names_the_position_of_an_unknown_field_and_suggests_a_close_one():
    error = error_for("agee >= 18")
    assert str(error) == 'unknown field "agee" at 1:1; did you mean "age"?'
    assert (error.line, error.column) == (1, 1)


def test_it_suggests_nothing_when_no_field_is_close():
    assert str(error_for('age > 1 and zzzzzz = "x"')) == 'unknown field "zzzzzz" at 1:13'


def test_it_counts_lines_and_columns_from_one():
    error = error_for('age > 1\n  and plat = "forum"')
    assert (error.line, error.column) == (2, 7)
    assert str(error) == 'unknown field "plat" at 2:7; did you mean "platform"?'


def test_it_rejects_an_empty_rule():
    assert str(error_for("   \n ")) == "the rule is empty"


def test_it_rejects_text_for_a_number_field():
    error = error_for('age >= "x"')
    assert str(error) == 'field "age" is a number; "x" at 1:8 is not a number'
    assert (error.line, error.column) == (1, 8)


def test_it_rejects_a_fractional_age():
    assert str(error_for("age > 17.5")) == (
        'field "age" is a whole number; 17.5 at 1:7 is not a whole number'
    )


def test_it_rejects_a_number_for_a_text_field():
    assert str(error_for("platform = 5")) == (
        'field "platform" is text; 5 at 1:12 is not text; put text in double quotes'
    )


def test_it_rejects_a_number_for_a_date_field():
    assert str(error_for("release_date < 5")) == (
        'field "release_date" is a date; 5 at 1:16 is not a date; write dates as 2026-01-31 or -7d'
    )


def test_it_rejects_a_date_for_a_time_field():
    assert str(error_for("local_time < 2026-01-01")) == (
        'field "local_time" is a time; 2026-01-01 at 1:14 is not a time; write times as 22:00'
    )


def test_it_type_checks_every_value_in_a_list():
    assert str(error_for('age in (1, "2")')) == (
        'field "age" is a number; "2" at 1:12 is not a number'
    )


def test_it_rejects_contains_on_a_field_that_is_not_text():
    assert str(error_for('age ~ "1"')) == (
        '"~" (contains) at 1:5 works only on text fields; field "age" is a number'
    )
    assert "is a choice" in str(error_for('stage ~ "off"'))


def test_it_rejects_ordering_text_or_choices():
    assert str(error_for('stage > "offender"')) == (
        '">" at 1:7 does not apply to field "stage", which is a choice; use =, !=, in or not in'
    )
    assert str(error_for('platform <= "m"')) == (
        '"<=" at 1:10 does not apply to field "platform", which is text; use =, !=, in, not in or ~'
    )


def test_it_rejects_a_choice_value_and_suggests_the_closest():
    assert str(error_for('stage = "offendr"')) == (
        '"offendr" at 1:9 is not a value of field "stage"; did you mean "offender"?'
    )


def test_it_lists_allowed_choices_when_none_is_close():
    assert str(error_for('programme in ("redirection", "xyz")')) == (
        '"xyz" at 1:30 is not a value of field "programme"; allowed: "redirection", "help_wanted"'
    )


def test_it_rejects_lower_case_country_codes_with_the_fix():
    assert (
        str(error_for('country = "gb"')) == '"gb" at 1:11 is not a country code; did you mean "GB"?'
    )
    assert str(error_for('country = "GBR"')) == '"GBR" at 1:11 is not a country code, e.g. "GB"'


def test_it_rejects_upper_case_language_codes_with_the_fix():
    assert str(error_for('language in ("EN")')) == (
        '"EN" at 1:14 is not a language code; did you mean "en"?'
    )


def test_it_allows_any_text_after_contains_on_a_code_field():
    assert parse_rule('country ~ "g"').text == 'country ~ "g"'


def test_it_says_what_was_expected_after_a_field():
    assert str(error_for("age 18")) == (
        'unexpected "18" at 1:5; expected a comparison operator, "in", "not", "is" or "~"'
    )


def test_it_says_a_value_is_missing_at_the_end():
    assert str(error_for("age >=")) == "unexpected end of rule at 1:7; expected a value"


def test_it_asks_for_a_closing_parenthesis():
    assert str(error_for("(age > 1")) == 'unexpected end of rule at 1:9; expected ")"'


def test_it_asks_for_set_after_is():
    assert str(error_for("age is")) == 'unexpected end of rule at 1:7; expected "not" or "set"'


def test_it_asks_for_another_condition_after_and():
    assert str(error_for("age > 18 and")) == (
        'unexpected end of rule at 1:13; expected a field name, "not" or "("'
    )


def test_it_suggests_quotes_for_a_bare_word_value():
    assert str(error_for("platform = forum")) == (
        'unexpected "forum" at 1:12; expected a value; put text in double quotes, e.g. "forum"'
    )


def test_it_wants_a_string_after_contains():
    assert str(error_for("platform ~ 5")) == (
        'unexpected "5" at 1:12; expected a string in double quotes'
    )


def test_it_names_an_unexpected_character():
    assert str(error_for("age > @")) == 'unexpected character "@" at 1:7; expected a value'


def test_it_points_single_quotes_to_double_quotes():
    assert str(error_for("platform = 'forum'")) == (
        'unexpected character "\'" at 1:12; strings use double quotes'
    )


def test_it_reports_an_unterminated_string_where_it_starts():
    assert str(error_for('platform = "forum')) == "unterminated string at 1:12"


def test_it_rejects_an_unknown_escape():
    assert str(error_for(r'platform = "a\qb"')) == (
        r"invalid escape in string at 1:12; use \" \\ \n \t or \uXXXX"
    )


def test_it_rejects_a_nul_character_in_a_string():
    assert "cannot be stored" in str(error_for(r'platform = "a\u0000"'))


def test_it_rejects_months_as_a_relative_unit():
    assert str(error_for("release_date > -3m")) == (
        "-3m at 1:16 is not a relative date; use d (days) or w (weeks), e.g. -7d"
    )


def test_it_rejects_an_impossible_date_and_time():
    assert str(error_for("release_date = 2026-02-30")) == "2026-02-30 at 1:16 is not a valid date"
    assert str(error_for("local_time = 24:00")) == "24:00 at 1:14 is not a valid time"


def test_it_rejects_numbers_too_large_to_store():
    assert "is too large" in str(error_for("age > 99999999999999999999"))


def test_it_rejects_absurdly_long_or_deep_rules():
    assert "too long" in str(error_for("age > 1 and " * 1000 + "age > 1"))
    assert "nests too deeply" in str(error_for("(" * 60 + "age > 1" + ")" * 60))


def test_the_error_is_a_value_error_for_form_validation():
    assert isinstance(error_for("age"), ValueError)


def test_a_non_string_rule_is_a_programming_error():
    with pytest.raises(TypeError):
        parse_rule(None)


@settings(max_examples=400, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from("age >=<!~()\",.-+:0123456789dw and or not in is set\n@'\\"),
        max_size=30,
    )
)
def test_no_lark_exception_ever_escapes(text):
    try:
        parse_rule(text, attributes=ATTRIBUTES)
    except RuleError as error:
        assert error.line >= 1 and error.column >= 1
