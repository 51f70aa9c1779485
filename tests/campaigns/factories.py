"""Factories for campaigns, messages, arms, flights and schedules."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from campaigns.models import Arm, Campaign, Flight, Message, Schedule
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
