"""The demo seed: a reviewed teachers' module and a law module, with simulated learners."""

from __future__ import annotations

import pytest

from core.disclosure import DisclosurePolicy
from directory.models import LegalNotice, Statute
from evaluation.models import Outcome
from learning.demo import INVITED, LAW_LEARNERS, TEACHERS, seed_demo_learning
from learning.models import Learner, Module, ReviewState
from learning.reports import learning_report
from tests.evaluation.factories import campaign_with_arms, expose

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_two_published_modules_and_a_populated_report(tenant):
    notice = LegalNotice.objects.create(organisation=tenant.organisation, jurisdiction="GB-ENG")
    Statute.objects.create(notice=notice, name="Protection of Children Act 1978",
                           section="s.1", offence_summary="An offence.", max_penalty="10 years.")
    campaign, arms = campaign_with_arms(tenant.organisation, {"letter": "variant"})
    for person in range(INVITED):
        expose(campaign, arms["letter"], person)
    line = seed_demo_learning(programme=tenant.organisation, manager=tenant.manager,
                              reviewer=tenant.reviewer, campaign=campaign)
    assert "simulated learners" in line and "no law module" not in line
    modules = list(Module.objects.order_by("kind"))
    assert [m.state for m in modules] == [ReviewState.PUBLISHED, ReviewState.PUBLISHED]
    assert {m.approved_by_id for m in modules} == {tenant.reviewer.pk}
    assert Learner.objects.count() == TEACHERS + LAW_LEARNERS
    assert Outcome.objects.filter(campaign=campaign, kind="module_enrolled").count() == INVITED
    report = learning_report(modules=modules, policy=DisclosurePolicy())
    assert all(row.result is not None for row in report.by_module)  # enough pairs to show
    assert all(row.result.post_mean > row.result.pre_mean for row in report.by_module)
    assert report.funnel and report.funnel[0].stages["enrolled"].value == INVITED

    again = seed_demo_learning(programme=tenant.organisation, manager=tenant.manager,
                               reviewer=tenant.reviewer, campaign=campaign)
    assert "(0 simulated learners)" in again
    assert Learner.objects.count() == TEACHERS + LAW_LEARNERS
