"""Factories for directory tests (the import tests use the real shared data instead)."""

from __future__ import annotations

import factory

from directory.models import HelpResource, LegalNotice, OpeningHours, Statute
from tests.factories import OrganisationFactory


class HelpResourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HelpResource

    organisation = factory.SubFactory(OrganisationFactory)
    slug = factory.Sequence(lambda n: f"prevention-line-{n}")
    name = factory.Sequence(lambda n: f"Prevention line {n}")
    provider_organisation = "A prevention charity"
    kind = "helpline"
    audiences = factory.LazyFunction(lambda: ["at_risk_self", "concerned_family_or_friend"])
    countries = factory.LazyFunction(lambda: ["GB"])
    languages = factory.LazyFunction(lambda: ["en"])
    phone = "+441234567890"
    url = "https://help.example.org/"
    source_status = "verified"


class OpeningHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OpeningHours

    resource = factory.SubFactory(HelpResourceFactory)
    weekday = 1
    opens = "09:00"
    closes = "17:00"


class LegalNoticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LegalNotice

    organisation = factory.SubFactory(OrganisationFactory)
    jurisdiction = "GB-ENG"
    confidence = "test"


class StatuteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Statute

    notice = factory.SubFactory(LegalNoticeFactory)
    name = "An Act"
    section = "s.1"
    offence_summary = "Makes the conduct an offence."
