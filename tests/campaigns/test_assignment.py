"""Deterministic assignment: proportions, stability across processes, namespaces, rotation."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from scipy.stats import chisquare

from campaigns.assignment import (
    arm_for_unit,
    assign_arm,
    assignment_unit_interval,
    integer_weights,
    rotation_schedule,
)
from campaigns.models import Arm, Campaign
from core.pseudonyms import Pseudonym
from tests.campaigns.factories import ArmFactory, CampaignFactory
from tests.factories import OrganisationFactory

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def subjects(count: int, *, salt: str = "") -> list[Pseudonym]:
    return [Pseudonym(key_id="2026-11", value=hashlib.sha256(f"{salt}{i}".encode()).hexdigest())
            for i in range(count)]


def campaign_with_arms(*weights: str, **campaign_fields: object) -> Campaign:
    campaign = CampaignFactory(**campaign_fields)
    for index, weight in enumerate(weights):
        kind = "holdout" if index == len(weights) - 1 and len(weights) == 3 else "variant"
        ArmFactory(campaign=campaign, name=f"arm-{index}", weight=Decimal(weight), kind=kind)
    return Campaign.objects.prefetch_related("arms").select_related("organisation").get(
        pk=campaign.pk)


@pytest.mark.django_db
def test_assignment_of_100000_pseudonyms_matches_the_weights() -> None:
    campaign = campaign_with_arms("45", "45", "10")
    counts = Counter(assign_arm(campaign=campaign, subject=s, at=AT).name
                     for s in subjects(100_000))
    observed = [counts["arm-0"], counts["arm-1"], counts["arm-2"]]
    expected = [45_000, 45_000, 10_000]
    assert sum(observed) == 100_000
    assert chisquare(observed, expected).pvalue > 0.001


@pytest.mark.django_db
def test_the_same_person_gets_the_same_arm_every_time() -> None:
    campaign = campaign_with_arms("1", "1")
    person = subjects(1)[0]
    arms = {assign_arm(campaign=campaign, subject=person, at=AT + timedelta(days=d)).pk
            for d in range(10)}
    assert len(arms) == 1


@pytest.mark.django_db
def test_assignment_is_stable_across_processes() -> None:
    campaign = campaign_with_arms("2", "1", "1")
    people = subjects(500, salt="cross-process")
    here = [assign_arm(campaign=campaign, subject=s, at=AT).name for s in people]
    arms = [{"pk": arm.pk, "name": arm.name, "weight": str(arm.weight)}
            for arm in campaign.arms.all()]
    script = (
        "import django, json, sys\n"
        "django.setup()\n"
        "from campaigns.assignment import arm_for_unit, assignment_unit_interval\n"
        "from campaigns.models import Arm, Campaign\n"
        "from core.pseudonyms import Pseudonym\n"
        "data = json.load(sys.stdin)\n"
        "campaign = Campaign(assignment_seed=data['seed'])\n"
        "arms = [Arm(pk=a['pk'], name=a['name'], weight=a['weight']) for a in data['arms']]\n"
        "out = [arm_for_unit(arms, assignment_unit_interval(campaign=campaign,\n"
        "        subject=Pseudonym('2026-11', v))).name for v in data['values']]\n"
        "print(json.dumps(out))\n"
    )
    payload = json.dumps({"seed": campaign.assignment_seed, "arms": arms,
                          "values": [s.value for s in people]})
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "outreach.settings",
           "PYTHONHASHSEED": "12345"}
    result = subprocess.run([sys.executable, "-c", script], input=payload, env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=120, check=True)
    there = json.loads(result.stdout.strip().splitlines()[-1])
    assert there == here


@pytest.mark.django_db
def test_two_campaigns_with_different_seeds_assign_independently() -> None:
    first = campaign_with_arms("1", "1")
    second = campaign_with_arms("1", "1")
    people = subjects(2000)
    same = sum(
        assign_arm(campaign=first, subject=s, at=AT).name
        == assign_arm(campaign=second, subject=s, at=AT).name
        for s in people)
    assert 850 < same < 1150  # about half agree by chance, not all


@pytest.mark.django_db
def test_campaigns_sharing_a_namespace_never_take_the_same_person() -> None:
    organisation = OrganisationFactory()
    shared = {"organisation": organisation, "assignment_namespace": "uk-search-2026"}
    first = campaign_with_arms("1", "1", namespace_offset=Decimal("0"),
                               namespace_share=Decimal("0.5"), **shared)
    second = campaign_with_arms("1", "1", namespace_offset=Decimal("0.5"),
                                namespace_share=Decimal("0.5"), **shared)
    in_first = in_second = 0
    for person in subjects(4000):
        a = assign_arm(campaign=first, subject=person, at=AT)
        b = assign_arm(campaign=second, subject=person, at=AT)
        assert a is None or b is None
        assert a is not None or b is not None  # the two halves cover the whole namespace
        in_first += a is not None
        in_second += b is not None
    assert chisquare([in_first, in_second]).pvalue > 0.001


@pytest.mark.django_db
def test_a_person_outside_the_campaigns_namespace_share_gets_no_arm() -> None:
    campaign = campaign_with_arms("1", "1", assignment_namespace="ns",
                                  namespace_offset=Decimal("0"),
                                  namespace_share=Decimal("0.1"))
    outcomes = [assign_arm(campaign=campaign, subject=s, at=AT) for s in subjects(2000)]
    taken = sum(arm is not None for arm in outcomes)
    assert 120 < taken < 290  # about 10%


@pytest.mark.django_db
def test_a_campaign_without_a_weighted_arm_assigns_nobody() -> None:
    campaign = campaign_with_arms("0", "0")
    assert assign_arm(campaign=campaign, subject=subjects(1)[0], at=AT) is None


@pytest.mark.django_db
def test_time_rotation_gives_everyone_the_same_arm_on_a_day_and_cycles_by_weight() -> None:
    organisation = OrganisationFactory(time_zone="Pacific/Auckland")
    campaign = campaign_with_arms("2", "1", design="time_rotated", organisation=organisation)
    days = []
    for day in range(30):
        at = AT + timedelta(days=day)
        arms = {assign_arm(campaign=campaign, subject=s, at=at).name for s in subjects(20)}
        assert len(arms) == 1
        days.append(arms.pop())
    assert Counter(days) == {"arm-0": 20, "arm-1": 10}
    assert days[:3] == days[3:6]  # a three-day cycle


@pytest.mark.django_db
def test_time_rotation_changes_arm_at_midnight_in_the_organisations_zone() -> None:
    organisation = OrganisationFactory(time_zone="Pacific/Auckland")  # UTC+13 in November
    campaign = campaign_with_arms("1", "1", design="time_rotated", organisation=organisation)
    person = subjects(1)[0]
    before = datetime(2026, 11, 25, 10, 59, tzinfo=UTC)  # 23:59 in Auckland
    after = datetime(2026, 11, 25, 11, 1, tzinfo=UTC)  # 00:01 the next day there
    later = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # same Auckland day as `after`
    assert assign_arm(campaign=campaign, subject=person, at=before) != \
        assign_arm(campaign=campaign, subject=person, at=after)
    assert assign_arm(campaign=campaign, subject=person, at=after) == \
        assign_arm(campaign=campaign, subject=person, at=later)


def test_weights_reduce_to_the_shortest_whole_day_cycle() -> None:
    assert integer_weights([Decimal("45"), Decimal("45"), Decimal("10")]) == [9, 9, 2]
    assert integer_weights([Decimal("0.4500"), Decimal("0.4500"), Decimal("0.1")]) == [9, 9, 2]
    arms = [Arm(pk=i, name=f"a{i}", weight=w) for i, w in enumerate(["9", "9", "2"])]
    cycle = rotation_schedule(arms)
    assert len(cycle) == 20
    assert Counter(arm.name for arm in cycle) == {"a0": 9, "a1": 9, "a2": 2}
    assert all(a.name != b.name for a, b in itertools.pairwise(cycle[:5]))


def test_the_unit_interval_splits_at_cumulative_weights() -> None:
    arms = [Arm(pk=1, name="a", weight="1"), Arm(pk=2, name="b", weight="3")]
    assert arm_for_unit(arms, 0.0).name == "a"
    assert arm_for_unit(arms, 0.2499).name == "a"
    assert arm_for_unit(arms, 0.25).name == "b"
    assert arm_for_unit(arms, 0.999999).name == "b"


def test_the_unit_interval_is_in_zero_one_and_depends_on_the_seed() -> None:
    person = subjects(1)[0]
    u1 = assignment_unit_interval(campaign=Campaign(assignment_seed="a"), subject=person)
    u2 = assignment_unit_interval(campaign=Campaign(assignment_seed="b"), subject=person)
    assert 0 <= u1 < 1 and 0 <= u2 < 1
    assert u1 != u2
