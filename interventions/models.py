"""Helpline daily counts by referral source: population-level evidence with no per-person rows.

Exposures and outcomes live in evaluation/models.py (the contract); this app only adds the
aggregates helplines report, upserted so a re-sent day replaces its counts instead of adding.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from core.vocabulary import OutcomeKind
from organisations.models import Organisation


class DailyAggregate(models.Model):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="daily_aggregates",
        help_text="The programme the counts are evidence for.")
    reported_by = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                    related_name="reported_daily_aggregates")
    day = models.DateField()
    kind = models.CharField(max_length=24, choices=OutcomeKind.choices)
    referral_source = models.CharField(
        max_length=64, help_text="A campaign referral code, or the helpline's own label.")
    campaign = models.ForeignKey("campaigns.Campaign", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="daily_aggregates")
    count = models.PositiveIntegerField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day", "kind", "referral_source"]
        constraints = [
            models.UniqueConstraint(fields=["reported_by", "day", "kind", "referral_source"],
                                    name="daily_aggregate_unique"),
        ]
        indexes = [models.Index(fields=["organisation", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} via {self.referral_source}: {self.count}"
