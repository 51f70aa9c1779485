"""Delivery test data: a running campaign with an audience, made through the real services,
and `send_until_idle`, a send lane run in-process."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings as django_settings
from django.utils import timezone

from campaigns.models import Arm, Campaign, Message, Schedule
from delivery.models import ChannelConfig
from delivery.sending import BatchReport, deliveries_send
from delivery.services import deliveries_claim
from organisations.models import Organisation
from organisations.services import Actor
from segments.models import Recipient, Segment
from segments.recipients import recipients_import
from segments.services import segment_create

BODY = ("If you are worried about your sexual thoughts or behaviour, confidential help is "
        "available. Quote {{ referral_code }} when you call.\n\nStop these messages: "
        "{{ opt_out_link }}")


@dataclass
class SendingCampaign:
    campaign: Campaign
    schedule: Schedule
    segment: Segment
    arms: list[Arm]


def email_address(n: int) -> str:
    return f"person{n}@example.test"


def recipients(organisation: Organisation, count: int, *, start: int = 0,
               channel: str = "email", **fields: object) -> None:
    rows = []
    for n in range(start, start + count):
        row = {"reference": f"R-{n:07d}", "country": "GB", "language": "en",
               "stage": "offender", "consent_basis": "consent", **fields}
        row["email" if channel == "email" else "phone"] = (
            email_address(n) if channel == "email" else f"+4477009{n:05d}")
        rows.append(row)
    report = recipients_import(organisation=organisation, rows=rows, actor=Actor.system())
    assert not report.rejected, report.rejected[:3]


def sending_campaign(organisation: Organisation, *, channel: str = "email",
                     holdout_weight: str = "0", fire_at: datetime | None = None,
                     status: str = "running", **schedule_fields: object) -> SendingCampaign:
    segment = Segment.objects.filter(organisation=organisation, name="UK audience").first() or \
        segment_create(organisation=organisation, name="UK audience", stage="offender",
                       rule='country = "GB"', actor=Actor.system())
    campaign = Campaign.objects.create(
        organisation=organisation, name=f"Reminder {Campaign.objects.count() + 1}",
        status=status, channels=[channel], languages=["en"], countries=["GB"],
        frequency_cap_count=0)
    campaign.segments.add(segment)
    message = Message.objects.create(
        organisation=organisation, name="Help reminder", channel=channel, language="en",
        framing="help_therapeutic", subject="Confidential help is available", body=BODY)
    variant = Arm.objects.create(campaign=campaign, name="supportive", weight=1)
    variant.messages.add(message)
    arms = [variant]
    if Decimal(holdout_weight) > 0:
        arms.append(Arm.objects.create(campaign=campaign, name="holdout", kind="holdout",
                                       weight=Decimal(holdout_weight)))
    schedule = Schedule.objects.create(campaign=campaign, kind="one_off", channel=channel,
                                       send_at=fire_at or timezone.now(), **schedule_fields)
    Schedule.objects.filter(pk=schedule.pk).update(next_fire_at=fire_at or timezone.now())
    schedule.refresh_from_db()
    return SendingCampaign(campaign=campaign, schedule=schedule, segment=segment, arms=arms)


def help_resource(organisation: Organisation) -> None:
    """A confirmed helpline for the audience, so the campaign may launch and resume."""
    from tests.directory.factories import HelpResourceFactory

    HelpResourceFactory(organisation=organisation, audiences=["offender", "at_risk_self"],
                        confirmed_at=timezone.now())


def channel_config(organisation: Organisation, channel: str = "email", *,
                   settings: dict | None = None, secrets: dict | None = None,
                   rate: float = 10_000, burst: int = 10_000) -> ChannelConfig:
    config, _ = ChannelConfig.objects.update_or_create(
        organisation=organisation, channel=channel,
        defaults={"settings": settings or {}, "credentials": json.dumps(secrets or {}),
                  "rate_per_second": rate, "burst": burst})
    return config


def recipient_numbers(organisation: Organisation) -> list[Recipient]:
    return list(Recipient.objects.filter(organisation=organisation).order_by("pk"))


def send_until_idle(max_batches: int = 100, batch: int = 50) -> BatchReport:
    """What a send lane does, in-process: claim and send until nothing is due."""
    totals = BatchReport()
    for _ in range(max_batches):
        worker_id = f"test:{uuid.uuid4().hex[:8]}"
        claimed_at = time.monotonic()
        ids = deliveries_claim(limit=batch, worker_id=worker_id, now=timezone.now())
        if not ids:
            break
        report = deliveries_send(ids=ids, worker_id=worker_id,
                                 lease_deadline=claimed_at + django_settings.DELIVERY_LEASE_SECONDS)
        for name in ("sent", "retried", "failed", "skipped", "released", "lost"):
            setattr(totals, name, getattr(totals, name) + getattr(report, name))
    return totals
