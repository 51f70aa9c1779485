"""The demo campaign and the periodic sweep."""

from __future__ import annotations

import pytest

from campaigns.demo import DEMO_NAME, seed_demo
from campaigns.models import Campaign
from campaigns.rendering import message_validate
from campaigns.selectors import running_campaigns_for_partner
from campaigns.tasks import BEAT_SCHEDULE, campaigns_sweep
from directory.demo import seed_demo as seed_directory
from segments.models import Segment
from tests.factories import OrganisationFactory

pytestmark = pytest.mark.django_db


def test_the_demo_campaign_is_approved_by_a_second_person_and_running(tenant) -> None:
    seed_directory(organisation=tenant.organisation)
    partner = OrganisationFactory(name="Demo search engine", kind="partner_platform")
    segment = Segment.objects.create(organisation=tenant.organisation, name="UK at risk",
                                     stage="at_risk", rule='country in ("GB")', status="ready")
    kwargs = {"organisation": tenant.organisation, "partner": partner,
              "reviewer": tenant.reviewer, "manager": tenant.manager, "segments": [segment]}
    campaign = seed_demo(**kwargs)
    assert campaign.name == DEMO_NAME
    assert campaign.status == "running"
    assert campaign.approved_by == tenant.reviewer and campaign.created_by == tenant.manager
    assert {(a.kind, str(a.weight)) for a in campaign.arms.all()} == {
        ("variant", "30.0000"), ("comparator", "30.0000"), ("holdout", "10.0000")}
    assert campaign.schedules.get().next_fire_at is not None
    assert running_campaigns_for_partner(partner=partner, at=campaign.flights.get().starts_at
                                         ) == [campaign]
    for arm in campaign.arms.exclude(kind="holdout"):
        assert {m.channel for m in arm.messages.all()} == {"email", "on_platform"}
        assert all(message_validate(m) == [] for m in arm.messages.all())
    assert seed_demo(**kwargs) == campaign
    assert Campaign.objects.filter(name=DEMO_NAME).count() == 1


def test_the_sweep_is_a_beat_task() -> None:
    assert BEAT_SCHEDULE["campaigns-sweep"]["task"] == "campaigns.tasks.campaigns_sweep"
    assert campaigns_sweep() == {"started": 0, "completed": 0}


def test_the_demo_messages_render_with_the_real_directory_and_signed_links(tenant) -> None:
    from campaigns.rendering import build_render_context, render_message

    seed_directory(organisation=tenant.organisation)
    partner = OrganisationFactory(name="Demo platform", kind="partner_platform")
    segment = Segment.objects.create(organisation=tenant.organisation, name="UK at risk",
                                     stage="at_risk", rule='country in ("GB")', status="ready")
    campaign = seed_demo(organisation=tenant.organisation, partner=partner,
                         reviewer=tenant.reviewer, manager=tenant.manager, segments=[segment])
    context = build_render_context(
        campaign=campaign, country="GB", language="en", stage="at_risk",
        link_signer=lambda r: f"https://outreach.example/go/{r.slug}",
        opt_out_url="https://outreach.example/opt-out/t", jurisdiction="GB-ENG")
    assert context.help_resources and context.legal_notice["statutes"]
    legal = campaign.arms.get(name="legal deterrence").messages.get(channel="email")
    rendered = render_message(message=legal, context=context)
    assert "Protection of Children Act 1978" in rendered.text
    assert "https://outreach.example/go/" in rendered.html
    assert campaign.referral_code in rendered.text
