"""The evidence log: exposures (who saw which arm) and outcomes, plus the evaluation engineer's
rollups and plans. Exposure and Outcome fields are the contract delivery and interventions write.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from organisations.models import Organisation
from outreach.vocabulary import Channel, OutcomeKind


class ExposureSource(models.TextChoices):
    DELIVERY = "delivery", "Scheduled delivery"
    INTERVENTION = "intervention", "Live intervention"
    PARTNER_LOG = "partner_log", "Partner-reported display"


class Exposure(models.Model):
    """One person seeing (or, for the holdout, being assigned not to see) one campaign arm.

    The id doubles as the public intervention id: random, so it cannot be enumerated.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="exposures")
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE,
                                 related_name="exposures")
    arm = models.ForeignKey("campaigns.Arm", on_delete=models.CASCADE, related_name="exposures")
    schedule = models.ForeignKey("campaigns.Schedule", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="exposures")
    segment = models.ForeignKey("segments.Segment", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="exposures")
    partner = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="partner_exposures")
    message = models.ForeignKey("campaigns.Message", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="exposures")
    source = models.CharField(max_length=16, choices=ExposureSource.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    country = models.CharField(max_length=2, blank=True)
    language = models.CharField(max_length=8, blank=True)
    trigger = models.CharField(max_length=64, blank=True)
    subject_key_id = models.CharField(max_length=16)
    subject_pseudonym = models.CharField(max_length=64)
    is_holdout = models.BooleanField(default=False)
    occurred_at = models.DateTimeField(default=timezone.now)
    rolled_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["campaign", "occurred_at"]),
            models.Index(fields=["subject_key_id", "subject_pseudonym", "occurred_at"]),
            models.Index(fields=["occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"exposure {self.pk}"


class Outcome(models.Model):
    """Something that happened after an exposure, or a helpline contact quoting a referral code."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="outcomes")
    reported_by = models.ForeignKey(Organisation, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="reported_outcomes")
    exposure = models.ForeignKey(Exposure, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="outcomes")
    campaign = models.ForeignKey("campaigns.Campaign", null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="outcomes")
    kind = models.CharField(max_length=24, choices=OutcomeKind.choices)
    idempotency_key = models.CharField(max_length=128)
    occurred_at = models.DateTimeField(default=timezone.now)
    recorded_at = models.DateTimeField(default=timezone.now)
    rolled_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A retried report counts once: the key is unique per reporting organisation.
            models.UniqueConstraint(fields=["reported_by", "idempotency_key"],
                                    name="outcome_idempotency_unique"),
        ]
        indexes = [models.Index(fields=["campaign", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.occurred_at:%Y-%m-%d}"
