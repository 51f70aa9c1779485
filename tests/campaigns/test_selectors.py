"""Campaign selectors: an arm's message along the language chain, and the running campaigns a
partner is enrolled in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import authoring, lifecycle, selectors
from campaigns.models import Message
from core.locales import language_chain
from organisations.services import Actor, partnership_set
from tests.campaigns.factories import (
    ArmFactory,
    CampaignFactory,
    FlightFactory,
    MessageFactory,
    approve,
)
from tests.factories import OrganisationFactory


def _language_message(arm, language: str) -> Message:  # type: ignore[no-untyped-def]
    message = MessageFactory(organisation=arm.campaign.organisation, channel="on_platform",
                             language=language)
    arm.messages.add(message)
    return message


@pytest.mark.django_db
def test_messages_for_arm_follow_the_language_chain() -> None:
    arm = ArmFactory()
    german = _language_message(arm, "de")
    english = _language_message(arm, "en")
    chain = language_chain("de-AT")
    assert chain == ["de-AT", "de", "en"]
    assert selectors.messages_for_arm(arm=arm, channel="on_platform",
                                      language_chain=chain) == german
    assert selectors.messages_for_arm(arm=arm, channel="on_platform",
                                      language_chain=["fr", "en"]) == english
    assert selectors.messages_for_arm(arm=arm, channel="sms", language_chain=chain) is None


@pytest.mark.django_db
def test_running_campaigns_for_partner_lists_enrolled_running_in_flight_by_priority(
        built, tenant) -> None:
    platform = OrganisationFactory(name="Platform", kind="partner_platform")
    partnership_set(programme=tenant.organisation, partner=platform, triggers=[],
                    actor=Actor.system())
    manager = Actor(user=tenant.manager)
    authoring.campaign_update(campaign=built.campaign, actor=manager, partners=[platform],
                             priority=1)
    campaign = approve(built, tenant)
    lifecycle.campaign_schedule(campaign=campaign, actor=manager)
    lifecycle.campaign_start(campaign=campaign, actor=Actor.system())
    urgent = CampaignFactory(organisation=tenant.organisation, priority=5, status="running")
    urgent.partners.add(platform)
    FlightFactory(campaign=urgent)
    not_enrolled = CampaignFactory(organisation=tenant.organisation, status="running")
    FlightFactory(campaign=not_enrolled)
    finished = CampaignFactory(organisation=tenant.organisation, status="running")
    finished.partners.add(platform)
    FlightFactory(campaign=finished, ends_at=timezone.now() - timedelta(minutes=1))
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        found = selectors.running_campaigns_for_partner(partner=platform, at=now)
        for c in found:
            assert selectors.campaign_in_flight(c, now)
            for arm in c.arms.all():
                selectors.messages_for_arm(arm=arm, channel="email", language_chain=["en"])
    assert found == [urgent, campaign]
    assert len(queries) <= 6


@pytest.mark.django_db
def test_a_partner_sees_only_campaigns_it_is_enrolled_in(built, tenant, other_tenant) -> None:
    platform = OrganisationFactory(name="Platform", kind="partner_platform")
    assert selectors.campaign_get(organisation=platform, pk=built.campaign.pk) is None
    assert selectors.campaign_get(organisation=other_tenant.organisation,
                                  pk=built.campaign.pk) is None
    built.campaign.partners.add(platform)
    assert selectors.campaign_get(organisation=platform, pk=built.campaign.pk) == built.campaign
