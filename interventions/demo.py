"""Demo seeding for `make demo`: a partner platform whose mock search page shows warnings.

Run after the programme's demo campaigns exist (campaigns.demo); idempotent.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus
from core.vocabulary import Channel
from evaluation.demo import DAYS
from interventions.models import DailyAggregate
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


def simulate_helpline_totals(*, campaign: Campaign) -> int:
    """90 days of simulated helpline contact totals, higher on the last 14 (the campaign).

    The population view's interrupted time series reads them; marked
    ``referral_source="demo-simulated"``. Idempotent: returns the number of days written.
    """
    organisation = campaign.organisation
    if DailyAggregate.objects.filter(organisation=organisation,
                                     referral_source="demo-simulated").exists():
        return 0
    rng = random.Random(f"outreach-demo-helpline-{campaign.pk}")
    today = timezone.now().date()
    rows = []
    for i in range(90):
        day = today - timedelta(days=89 - i)
        mean = 40 * (1.25 if i >= 90 - DAYS else 1.0) * (1 + 0.001 * i)
        rows.append(DailyAggregate(organisation=organisation, reported_by=organisation, day=day,
                                   kind="helpline_contact", referral_source="demo-simulated",
                                   count=_poisson(rng, mean),
                                   updated_at=datetime.combine(day, time(23), tzinfo=UTC)))
    DailyAggregate.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _poisson(rng: random.Random, mean: float) -> int:
    # Normal approximation is fine at these means (~40) and keeps numpy out of the demo.
    return max(0, round(rng.gauss(mean, mean ** 0.5)))
