"""Demo seeding for `make demo`: a partner platform whose mock search page shows warnings.

Run after the programme's demo campaigns exist (campaigns.demo); idempotent.
"""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse

from campaigns.models import Campaign, CampaignStatus
from core.vocabulary import Channel
from organisations.models import Organisation, Partnership
from organisations.services import Actor, partnership_set

DEMO_TRIGGERS = ("search_blocked_term", "upload_blocked")


@transaction.atomic
def seed_demo(*, programme: Organisation, partner: Organisation,
              campaign: Campaign | None = None) -> str:
    """Give the partner the demo trigger vocabulary and enrol it; return the demo page path.

    Enrols the partner in `campaign`, or (when None) in every running campaign of the
    programme that uses the on-platform channel. The page needs DEBUG or DEMO_PAGES=1.
    """
    existing = Partnership.objects.filter(programme=programme, partner=partner).first()
    triggers = set(existing.triggers if existing else []) | set(DEMO_TRIGGERS)
    if existing is None or set(existing.triggers) != triggers:
        partnership_set(programme=programme, partner=partner, triggers=sorted(triggers),
                        actor=Actor.system())
    campaigns = [campaign] if campaign is not None else [
        c for c in Campaign.objects.filter(organisation=programme, status=CampaignStatus.RUNNING)
        if Channel.ON_PLATFORM in (c.channels or [])]
    for each in campaigns:
        each.partners.add(partner)
    return f"{reverse('interventions:demo-partner')}?partner={partner.slug}"
