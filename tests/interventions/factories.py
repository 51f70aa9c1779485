"""A running partner campaign with the directory it signposts: the intervention test world."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any

from django.utils import timezone

from campaigns.models import Arm, Campaign, Flight, Message
from directory.models import HelpResource, LegalNotice, OpeningHours, Statute
from organisations.models import ApiScope, Organisation, Partnership
from segments.models import Segment
from tests.factories import ApiKeyFactory, OrganisationFactory

_numbers = itertools.count(1)
TRIGGERS = ["search_blocked_term", "upload_blocked"]
WARNING_BODY = (
    "Viewing or sharing sexual images of children is a crime and causes real harm.\n\n"
    "Confidential, anonymous help is available: {{ help_link }}")


@dataclass
class World:
    programme: Organisation
    partner: Organisation
    secret: str
    campaign: Campaign
    variant: Arm
    message: Message
    segment: Segment | None
    resources: dict[str, HelpResource] = field(default_factory=dict)
    holdout: Arm | None = None

    def client(self, secret: str | None = None):  # type: ignore[no-untyped-def]
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret or self.secret}")
        return client


def partner_org(name: str | None = None, **kwargs: Any) -> Organisation:
    name = name or f"Example Search {next(_numbers)}"
    return OrganisationFactory(name=name, kind="partner_platform", **kwargs)


def partner_key(partner: Organisation, *scopes: str) -> str:
    scopes = scopes or (ApiScope.INTERVENTIONS_WRITE, ApiScope.OUTCOMES_WRITE)
    _, secret = ApiKeyFactory.create_with_secret(organisation=partner, scopes=list(scopes))
    return secret


def campaign_for(programme: Organisation, partner: Organisation, *, name: str = "Deterrence",
                 priority: int = 0, rule: str | None = 'country in ("GB", "IE")',
                 stage: str = "at_risk", holdout_weight: float = 0, variant_weight: float = 1,
                 body: str = WARNING_BODY, language: str = "en", **fields: Any
                 ) -> tuple[Campaign, Arm, Arm | None, Message, Segment | None]:
    now = timezone.now()
    campaign = Campaign.objects.create(organisation=programme, name=name, priority=priority,
                                       channels=["on_platform"], languages=[language],
                                       **fields)
    Campaign.objects.filter(pk=campaign.pk).update(status="running")
    campaign.refresh_from_db()
    campaign.partners.add(partner)
    Flight.objects.create(campaign=campaign, starts_at=now - timedelta(days=1))
    segment = None
    if rule is not None:
        segment = Segment.objects.create(organisation=programme, name=f"{name} audience",
                                         stage=stage, rule=rule, status="ready")
        campaign.segments.add(segment)
    message = Message.objects.create(
        organisation=programme, name=f"{name} warning", channel="on_platform",
        language=language, framing="legal_deterrence", polarity="warning",
        subject="This search may be illegal", body=body)
    variant = Arm.objects.create(campaign=campaign, name="legal", kind="variant",
                                 weight=variant_weight)
    variant.messages.add(message)
    holdout = None
    if holdout_weight:
        holdout = Arm.objects.create(campaign=campaign, name="holdout", kind="holdout",
                                     weight=holdout_weight)
    return campaign, variant, holdout, message, segment


def help_resources(programme: Organisation) -> dict[str, HelpResource]:
    """A helpline open round the clock, one with unknown hours, and a worldwide website."""
    now = timezone.now()
    common = {"organisation": programme, "source_status": "verified", "confirmed_at": now,
              "audiences": ["at_risk_self", "offender"], "languages": ["en"]}
    always = HelpResource.objects.create(
        slug="stop-it-now-uk-ireland-helpline", name="Stop It Now! helpline",
        provider_organisation="The Lucy Faithfull Foundation", kind="helpline",
        countries=["GB"], phone="+448081000900", url="https://www.stopitnow.org.uk/helpline/",
        time_zone="Europe/London", description="Confidential advice line.", **common)
    for weekday in range(1, 8):
        OpeningHours.objects.create(resource=always, weekday=weekday, opens=time(0, 0),
                                    closes=time(0, 0))
    unknown_hours = HelpResource.objects.create(
        slug="example-line", name="Example line (hours unknown)", kind="helpline",
        countries=["GB"], phone="+441234567890", url="https://help.example.org/", **common)
    worldwide = HelpResource.objects.create(
        slug="troubled-desire", name="Troubled Desire", kind="self_help_programme",
        countries=["*"], url="https://troubled-desire.com/", **common)
    return {"always": always, "unknown_hours": unknown_hours, "worldwide": worldwide}


def legal_notice(programme: Organisation) -> LegalNotice:
    notice = LegalNotice.objects.create(organisation=programme, jurisdiction="GB-ENG",
                                        also_applies_to=["GB-WLS"], confidence="test")
    Statute.objects.create(notice=notice, name="Protection of Children Act 1978",
                           section="s.1", offence_summary="Making or possessing indecent "
                           "images of children.", max_penalty="10 years' imprisonment")
    return notice


def world(programme: Organisation | None = None, **campaign_fields: Any) -> World:
    programme = programme or OrganisationFactory(
        name=f"Prevention Programme {next(_numbers)}", kind="programme_owner")
    partner = partner_org()
    Partnership.objects.create(programme=programme, partner=partner, triggers=TRIGGERS)
    campaign, variant, holdout, message, segment = campaign_for(programme, partner,
                                                                **campaign_fields)
    resources = help_resources(programme)
    legal_notice(programme)
    return World(programme=programme, partner=partner, secret=partner_key(partner),
                 campaign=campaign, variant=variant, holdout=holdout, message=message,
                 segment=segment, resources=resources)
