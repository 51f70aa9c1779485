"""Capacity-aware pacing: the helpline's beat task writes each paced campaign's send ceiling
into delivery's PacingLimit table (delivery is a lower layer: it reads a number, never us).

Model (pure functions in helpline.capacity):
- service rate S = counsellors online x chats each x 60 / mean chat minutes (chats per hour);
- arrival budget B = 0.8 x S - arrivals in the last hour from sources that are not paced -
  people already queued beyond the free slots; 0 while closed or unstaffed;
- contact rate r_c of campaign c = (chats from c + prior x weight) / (exposures of c + weight),
  over the last LOOKBACK_DAYS (the posterior mean of a Beta prior: the prior rules until the
  campaign's own exposures outweigh it);
- ceiling for c = (B / number of paced campaigns) / r_c sends per hour, so the expected
  arrivals sum(ceiling_c x r_c) <= B.
A limit lives LIMIT_TTL; if this task stops, delivery holds the campaign (rate 0).
Known limits: people do not chat the minute a message arrives (the model assumes they do
within the hour), and an equal share ignores campaigns that cannot use theirs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count
from django.utils import timezone

from delivery.models import PacingLimit
from evaluation.models import Exposure
from helpline import capacity as cap
from helpline.models import Conversation, Helpline, PacedCampaign
from helpline.selectors import helpline_capacity

LOOKBACK_DAYS = 14
LIMIT_TTL = timedelta(minutes=5)


def pacing_refresh(*, at: datetime | None = None) -> dict[int, float]:
    """Recompute every paced campaign's ceiling; returns {campaign id: sends per hour}."""
    at = at or timezone.now()
    written: dict[int, float] = {}
    for helpline in Helpline.objects.filter(paced__isnull=False).distinct().select_related(
            "resource"):
        written.update(_refresh_helpline(helpline, at))
    return written


def _refresh_helpline(helpline: Helpline, at: datetime) -> dict[int, float]:
    paced = list(PacedCampaign.objects.filter(helpline=helpline))
    capacity = helpline_capacity(helpline, at=at)
    since = at - timedelta(days=LOOKBACK_DAYS)
    ids = [p.campaign_id for p in paced]
    contacts = dict(Conversation.objects.filter(helpline=helpline, campaign_id__in=ids,
                                                created_at__gte=since)
                    .values_list("campaign_id").annotate(n=Count("pk")))
    exposures = dict(Exposure.objects.filter(campaign_id__in=ids, occurred_at__gte=since,
                                             is_holdout=False)
                     .values_list("campaign_id").annotate(n=Count("pk")))
    other = Conversation.objects.filter(helpline=helpline, created_at__gte=at - timedelta(
        hours=1)).exclude(campaign_id__in=ids).count()
    rates = cap.send_rates_per_hour(
        capacity=capacity, other_arrivals_per_hour=float(other),
        campaigns=[cap.PacingInput(campaign_id=p.campaign_id,
                                   exposures=exposures.get(p.campaign_id, 0),
                                   contacts=contacts.get(p.campaign_id, 0),
                                   prior_rate=p.prior_contact_rate,
                                   prior_weight=p.prior_weight) for p in paced])
    for campaign_id, per_hour in rates.items():
        PacingLimit.objects.update_or_create(campaign_id=campaign_id, defaults={
            "sends_per_hour": per_hour, "reason": f"helpline {helpline.slug}: {capacity.reason}",
            "computed_at": at, "expires_at": at + LIMIT_TTL})
    return rates
