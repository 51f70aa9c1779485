import pytest

from campaigns import lifecycle
from evaluation.demo import PLAN
from evaluation.models import EvaluationPlan
from evaluation.services import plan_create
from organisations.services import Actor
from tests.campaigns.factories import approve

pytestmark = pytest.mark.django_db


def test_starting_a_campaign_locks_its_evaluation_plan(built, tenant):
    campaign = approve(built, tenant)
    actor = Actor(user=tenant.manager)
    plan_create(campaign=campaign, actor=actor, comparator_kind="holdout", **PLAN)
    lifecycle.campaign_schedule(campaign=campaign, actor=actor)
    lifecycle.campaign_start(campaign=campaign, actor=actor)
    plan = EvaluationPlan.objects.get(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == "running"
    assert plan.locked_at is not None
    assert len(plan.locked_hash) == 64


def test_a_campaign_without_a_plan_still_starts(built, tenant):
    campaign = approve(built, tenant)
    actor = Actor(user=tenant.manager)
    lifecycle.campaign_schedule(campaign=campaign, actor=actor)
    lifecycle.campaign_start(campaign=campaign, actor=actor)
    campaign.refresh_from_db()
    assert campaign.status == "running"
