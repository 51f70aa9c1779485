"""Differencing attacks on segment previews: two previews of rules whose members differ by
one person (or a swap of two) must not tell whether that person matches.

The attacker here knows one recipient's reference and tries to learn an attribute: preview a
rule, then the same rule narrowed by that attribute, and read the difference. Rounding alone
loses (20 and 19 round to 20 and 20, but 13 and 12 to 15 and 10); the previews refuse a set
within 9 people of a recently released one (segments.previews, core.disclosure.differencing).
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from hypothesis import given, settings
from hypothesis import strategies as st

from core.disclosure.differencing import MemberSketch, difference_size
from segments.previews import REFUSED, _key
from segments.selectors import rule_preview
from segments.targeting import rule_parse
from tests.segments.factories import recipient, segment

pytestmark = pytest.mark.django_db


def preview(organisation, text: str):  # type: ignore[no-untyped-def]
    from django.utils import timezone

    return rule_preview(organisation=organisation, rule=rule_parse(text, organisation=organisation),
                        now=timezone.now())


@pytest.fixture
def people(tenant):  # type: ignore[no-untyped-def]
    cache.delete(_key(tenant.organisation.pk))
    for number in range(12):
        recipient(tenant.organisation, f"P-{number}", age=34)
    recipient(tenant.organisation, "TARGET", age=61)  # the person the attacker asks about
    return tenant.organisation


def test_a_rule_narrowed_by_one_person_is_refused(people) -> None:  # type: ignore[no-untyped-def]
    everyone = preview(people, 'country = "GB"')
    assert everyone.count.display == "15"  # 13 rounded
    narrowed = preview(people, 'country = "GB" and age < 60')  # everyone but the target
    assert narrowed.count.reason == REFUSED and narrowed.count.value is None
    assert narrowed.samples == []
    # and the other way round: the target alone is a small count, its complement refused
    assert preview(people, 'country = "GB" and age >= 60').count.display == "<10"


def test_a_swap_of_two_people_is_refused_and_the_same_set_is_answered_again(people) -> None:  # type: ignore[no-untyped-def]
    first = preview(people, 'country = "GB" and age < 60')
    assert first.count.display == "10"
    # the same members by another rule: same figure, nothing new
    assert preview(people, 'age <= 34').count.display == "10"
    recipient(people, "NEW", age=34)  # one joins (the importer knows who): set differs by 1
    assert preview(people, 'age <= 34').count.reason == REFUSED


def test_sets_that_differ_by_the_threshold_or_more_are_answered(people) -> None:  # type: ignore[no-untyped-def]
    assert preview(people, 'age > 60').count.display == "<10"  # 1 person
    for number in range(12, 22):
        recipient(people, f"P-{number}", age=34)
    # 23 people now, 10 more than the 13 of "everyone": far enough from every release
    assert preview(people, 'country = "GB"').count.display == "25"


def test_the_api_and_the_editor_refuse_in_the_same_way(people, tenant) -> None:  # type: ignore[no-untyped-def]
    everyone = segment(people, 'country = "GB"')
    narrowed = segment(people, 'country = "GB" and age < 60', name="UK under 60")
    client = tenant.client()
    assert client.get(f"/api/v1/segments/{everyone.pk}/preview").json()["count"] == 15
    body = client.get(f"/api/v1/segments/{narrowed.pk}/preview").json()
    assert body["count"] is None and body["suppressed"] is True and body["samples"] == []
    assert body["count_display"].startswith("refused")
    from segments.admin import rule_check_for_editor

    answer = rule_check_for_editor('age < 60 and country = "GB"', organisation=people)
    assert answer["count"].startswith("refused")


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(1, 10**9), min_size=0, max_size=400),
       st.integers(0, 12), st.integers(0, 12), st.randoms(use_true_random=False))
def test_the_sketch_recovers_every_small_difference_and_calls_large_ones_large(
        base, removed, added, rng) -> None:  # type: ignore[no-untyped-def]
    members = sorted(base)
    gone = set(rng.sample(members, min(removed, len(members))))
    new = {10**9 + rng.randrange(10**6) for _ in range(added)}
    other = (base - gone) | new
    truth = len(base ^ other)
    found = difference_size(MemberSketch.of(base), MemberSketch.from_bytes(
        MemberSketch.of(other).to_bytes()), 10)
    assert found == (truth if truth < 10 else None)
