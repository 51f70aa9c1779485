"""One rule, two evaluators: the SQL compiled from a rule selects exactly the stored recipients
whose context the Python predicate accepts.

Random rules and random people come from the rules engineer's strategies; the people are
stored as real Recipient rows and read back, so the predicate sees what the database holds
(an age of 17.5 cannot be stored in the integer column, for example, and is simply unset).
Runs on PostgreSQL in CI (the `postgres` fixture) and on SQLite locally.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segments.models import Recipient
from segments.rules.strategies import ANCHOR, EXAMPLE_ATTRIBUTES, rules, stored_contexts
from segments.targeting import RECIPIENT_FIELD_MAP, recipient_context, rule_queryset
from tests.factories import OrganisationFactory

PEOPLE = st.lists(stored_contexts(EXAMPLE_ATTRIBUTES, RECIPIENT_FIELD_MAP), min_size=1, max_size=8)
AGREEMENT = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def storable_age(value: Any) -> int | None:
    whole = isinstance(value, int | float) and not isinstance(value, bool) and value == int(value)
    return int(value) if whole and value >= 0 else None


def recipient_from(context: dict[str, Any], *, organisation, number: int) -> Recipient:
    attributes = {
        name: value.isoformat() if hasattr(value, "isoformat") else value
        for name, value in context.items()
        if name in EXAMPLE_ATTRIBUTES
    }
    return Recipient(
        organisation=organisation,
        reference_key_id="test",
        reference_pseudonym=f"p{number}",
        stage=context.get("stage") or "",
        country=context.get("country") or "",
        language=context.get("language") or "",
        age=storable_age(context.get("age")),
        attributes=attributes,
    )


def assert_evaluators_agree(rule, people: list[dict[str, Any]]) -> None:
    with transaction.atomic():
        organisation = OrganisationFactory()
        Recipient.objects.bulk_create(
            recipient_from(person, organisation=organisation, number=number)
            for number, person in enumerate(people)
        )
        stored = list(Recipient.objects.filter(organisation=organisation))
        by_predicate = {r.pk for r in stored if rule.matches(recipient_context(r), now=ANCHOR)}
        selected = (
            rule_queryset()
            .filter(organisation=organisation)
            .filter(rule.to_q(now=ANCHOR, field_map=RECIPIENT_FIELD_MAP))
        )
        by_query = set(selected.values_list("pk", flat=True))
        transaction.set_rollback(True)
    assert by_query == by_predicate, rule.text


@pytest.mark.django_db
@AGREEMENT
@given(rule=rules(EXAMPLE_ATTRIBUTES), people=PEOPLE)
def test_the_query_and_the_predicate_select_the_same_recipients(rule, people) -> None:
    assert_evaluators_agree(rule, people)


@pytest.mark.postgres
@AGREEMENT
@given(rule=rules(EXAMPLE_ATTRIBUTES), people=PEOPLE)
def test_the_query_and_the_predicate_agree_on_postgresql(postgres, rule, people) -> None:
    assert_evaluators_agree(rule, people)


@pytest.mark.django_db
def test_a_blank_column_is_not_set_for_both_evaluators() -> None:
    from segments.rules import parse_rule

    for text in ("country is not set", 'not country = "GB"', 'country != "GB"'):
        assert_evaluators_agree(parse_rule(text), [{"country": None}, {"country": "GB"}])
