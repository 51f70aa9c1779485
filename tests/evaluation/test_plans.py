"""Evaluation plans: editable before launch, locked with a hash at launch, amended after."""

from __future__ import annotations

import hashlib
import json

import pytest

from core.errors import Conflict, InvalidInput
from evaluation.models import EvaluationPlan, PlanAmendment
from evaluation.services import (
    plan_amend,
    plan_canonical,
    plan_create,
    plan_expected_hash,
    plan_hash,
    plan_lock_for_campaign,
    plan_required_sample_size,
    plan_update,
)
from organisations.models import AuditEvent
from organisations.services import Actor
from tests.evaluation.factories import campaign_with_arms

PLAN = {
    "hypothesis": "A legal-deterrence warning raises help clicks over a neutral message.",
    "primary_outcome": "help_click",
    "secondary_outcomes": ["helpline_contact"],
    "comparator_kind": "neutral_control",
    "comparator_rationale": "Everyone sees a message; the control signposts help too.",
    "unit_of_analysis": "session",
    "baseline_rate": 0.000175,
    "minimum_detectable_effect": 0.3,
}


@pytest.fixture
def plan(tenant) -> EvaluationPlan:  # type: ignore[no-untyped-def]
    campaign, _ = campaign_with_arms(tenant.organisation)
    return plan_create(campaign=campaign, actor=Actor(user=tenant.manager), **PLAN)


def test_a_new_plan_stores_the_required_sample_size_from_statsmodels(plan) -> None:  # type: ignore[no-untyped-def]
    expected = plan_required_sample_size(plan=plan)
    assert plan.required_sample_per_arm == expected.comparator_per_arm
    assert 500_000 < plan.required_sample_per_arm < 2_000_000  # rare outcome, +30%


def test_a_plan_can_be_edited_until_it_is_locked(plan, tenant) -> None:  # type: ignore[no-untyped-def]
    plan_update(plan=plan, actor=Actor(user=tenant.manager), alpha=0.01)
    plan.refresh_from_db()
    assert plan.alpha == 0.01


def test_starting_the_campaign_locks_the_plan_with_the_sha256_of_its_canonical_form(plan) -> None:  # type: ignore[no-untyped-def]
    locked = plan_lock_for_campaign(campaign=plan.campaign)
    text = json.dumps(plan_canonical(locked), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    assert locked.locked_at is not None
    assert locked.locked_hash == hashlib.sha256(text.encode()).hexdigest()
    assert AuditEvent.objects.filter(action="evaluation_plan.lock").count() == 1


def test_locking_twice_changes_nothing(plan) -> None:  # type: ignore[no-untyped-def]
    first = plan_lock_for_campaign(campaign=plan.campaign)
    second = plan_lock_for_campaign(campaign=plan.campaign)
    assert (first.locked_at, first.locked_hash) == (second.locked_at, second.locked_hash)
    assert AuditEvent.objects.filter(action="evaluation_plan.lock").count() == 1


def test_a_campaign_without_a_plan_starts_without_one(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, _ = campaign_with_arms(tenant.organisation)
    assert plan_lock_for_campaign(campaign=campaign) is None


def test_a_locked_plan_refuses_silent_edits(plan, tenant) -> None:  # type: ignore[no-untyped-def]
    plan_lock_for_campaign(campaign=plan.campaign)
    with pytest.raises(Conflict):
        plan_update(plan=plan, actor=Actor(user=tenant.manager), alpha=0.01)


def test_an_amendment_records_reason_time_and_the_hash_chain(plan, tenant) -> None:  # type: ignore[no-untyped-def]
    locked = plan_lock_for_campaign(campaign=plan.campaign)
    amendment = plan_amend(plan=locked, actor=Actor(user=tenant.manager),
                           reason="The helpline asked us to watch opt-outs too.",
                           secondary_outcomes=["helpline_contact", "opt_out"])
    locked.refresh_from_db()
    assert amendment.previous_hash == locked.locked_hash
    assert amendment.new_hash == plan_hash(locked) != locked.locked_hash
    assert amendment.changes == {"secondary_outcomes": [["helpline_contact"],
                                                        ["helpline_contact", "opt_out"]]}
    assert amendment.actor == tenant.manager
    second = plan_amend(plan=locked, actor=Actor.system(), reason="Stricter alpha.", alpha=0.01)
    assert second.previous_hash == amendment.new_hash
    assert plan_expected_hash(locked) == second.new_hash


def test_an_amendment_needs_a_reason_and_a_change(plan, tenant) -> None:  # type: ignore[no-untyped-def]
    locked = plan_lock_for_campaign(campaign=plan.campaign)
    with pytest.raises(InvalidInput) as no_reason:
        plan_amend(plan=locked, actor=Actor.system(), reason="  ", alpha=0.01)
    assert no_reason.value.field == "reason"
    with pytest.raises(InvalidInput):
        plan_amend(plan=locked, actor=Actor.system(), reason="nothing", alpha=locked.alpha)
    assert not PlanAmendment.objects.exists()


def test_a_plan_without_an_ethical_rationale_cannot_be_locked(plan, tenant) -> None:  # type: ignore[no-untyped-def]
    plan_update(plan=plan, actor=Actor.system(), comparator_rationale="")
    with pytest.raises(InvalidInput) as error:
        plan_lock_for_campaign(campaign=plan.campaign)
    assert error.value.field == "comparator_rationale"


def test_a_holdout_plan_needs_a_holdout_arm(plan) -> None:  # type: ignore[no-untyped-def]
    plan_update(plan=plan, actor=Actor.system(), comparator_kind="holdout")
    with pytest.raises(InvalidInput) as error:
        plan_lock_for_campaign(campaign=plan.campaign)
    assert error.value.field == "comparator_kind"


@pytest.mark.parametrize(("field", "value"), [
    ("alpha", 0.7), ("power", 1.5), ("baseline_rate", 0), ("primary_outcome", "clicked"),
    ("secondary_outcomes", ["nonsense"]), ("minimum_detectable_effect", 0),
])
def test_it_rejects_an_impossible_plan_naming_the_field(tenant, field, value) -> None:  # type: ignore[no-untyped-def]
    campaign, _ = campaign_with_arms(tenant.organisation)
    with pytest.raises(InvalidInput) as error:
        plan_create(campaign=campaign, actor=Actor.system(), **{**PLAN, field: value})
    assert error.value.field == field


def test_a_changed_arm_weight_shows_up_as_a_hash_mismatch(plan) -> None:  # type: ignore[no-untyped-def]
    locked = plan_lock_for_campaign(campaign=plan.campaign)
    arm = locked.campaign.arms.get(name="legal")
    arm.weight = 3
    arm.save()
    assert plan_hash(locked) != plan_expected_hash(locked)
