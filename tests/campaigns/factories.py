"""Factories for campaigns, messages, arms, flights and schedules, and `build_campaign`: a
campaign a manager has built end to end (two variants and a 10% holdout, ready to submit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from campaigns import authoring, lifecycle
from campaigns.models import Arm, Campaign, Flight, Message, Schedule
from organisations.services import Actor
from segments.models import Segment
from tests.directory.factories import HelpResourceFactory
from tests.factories import OrganisationFactory


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")
    objective = "Signpost people worried about their thoughts to confidential help."
    channels = factory.LazyFunction(lambda: ["email", "on_platform"])
    countries = factory.LazyFunction(lambda: ["GB"])
    languages = factory.LazyFunction(lambda: ["en"])


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"Message {n}")
    channel = "email"
    language = "en"
    framing = "help_therapeutic"
    polarity = "supportive"
    subject = "Confidential help is available"
    body = ("Worried about your thoughts or behaviour? Confidential help is available.\n\n"
            "Talk to {{ help_resources.0.name }}: {{ help_link }}")


class ArmFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Arm

    campaign = factory.SubFactory(CampaignFactory)
    name = factory.Sequence(lambda n: f"arm-{n}")
    kind = "variant"
    weight = 1


class FlightFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Flight

    campaign = factory.SubFactory(CampaignFactory)
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))


class ScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Schedule

    campaign = factory.SubFactory(CampaignFactory)
    kind = "one_off"
    channel = "email"
    send_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))


@dataclass
class Built:
    campaign: Campaign
    resource: object
    segment: Segment


def build_campaign(tenant, *, name: str = "Stop It Now signposting") -> Built:  # type: ignore[no-untyped-def]
    organisation = tenant.organisation
    manager = Actor(user=tenant.manager)
    segment = Segment.objects.create(organisation=organisation, name=f"{name} audience",
                                     stage="at_risk", rule='country in ("GB")', status="ready")
    resource = HelpResourceFactory(organisation=organisation, name="Stop It Now helpline",
                                   slug=f"stop-it-now-{Campaign.objects.count()}",
                                   confirmed_at=timezone.now() - timedelta(days=1))
    campaign = authoring.campaign_create(
        organisation=organisation, actor=manager, name=name, channels=["email"],
        countries=["GB"], languages=["en"], segments=[segment],
        objective="Point people worried about their thoughts to confidential help.")
    legal = authoring.message_create(
        organisation=organisation, actor=manager, name=f"{name} legal", channel="email",
        language="en", framing="legal_deterrence", polarity="warning",
        subject="Viewing sexual images of under-18s is illegal",
        body="It is against the law. Confidential help: {{ help_link }}")
    helpful = authoring.message_create(
        organisation=organisation, actor=manager, name=f"{name} help", channel="email",
        language="en", framing="help_therapeutic", polarity="supportive",
        subject="Confidential help is available",
        body="You can get confidential help to stop: {{ help_link }}")
    authoring.arm_save(campaign=campaign, actor=manager, name="legal", weight=Decimal(45),
                      messages=[legal])
    authoring.arm_save(campaign=campaign, actor=manager, name="help", weight=Decimal(45),
                      messages=[helpful])
    authoring.arm_save(campaign=campaign, actor=manager, name="holdout", kind="holdout",
                      weight=Decimal(10))
    authoring.flight_create(campaign=campaign, actor=manager,
                           starts_at=timezone.now() - timedelta(hours=1),
                           ends_at=timezone.now() + timedelta(days=30))
    authoring.schedule_save(campaign=campaign, actor=manager, kind="one_off", channel="email",
                           send_at=timezone.now() + timedelta(days=1))
    campaign.refresh_from_db()
    return Built(campaign=campaign, resource=resource, segment=segment)


def approve(built: Built, tenant) -> Campaign:  # type: ignore[no-untyped-def]
    campaign = built.campaign
    lifecycle.campaign_submit(campaign=campaign, actor=Actor(user=tenant.manager))
    lifecycle.campaign_approve(campaign=campaign, actor=Actor(user=tenant.reviewer))
    return campaign
