"""Segments (who a campaign targets) and recipients (identifiable people who consented).

The segments engineer owns this file; the fields below are the contract other apps rely on.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from organisations.models import Organisation
from outreach.vocabulary import AudienceStage


class SegmentStatus(models.TextChoices):
    READY = "ready", "Ready"
    INVALID = "invalid", "Invalid"


class Segment(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="segments")
    name = models.CharField(max_length=200)
    stage = models.CharField(max_length=32, choices=AudienceStage.choices)
    description = models.TextField(blank=True)
    rule = models.TextField(help_text="A rule in the segment language, e.g. country in (\"GB\")")
    fields = models.JSONField(default=list, blank=True, editable=False)
    status = models.CharField(max_length=16, choices=SegmentStatus.choices,
                              default=SegmentStatus.INVALID, editable=False)
    error = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="segment_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class RecipientStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ERASED = "erased", "Erased"


class Recipient(models.Model):
    """A person who consented to contact. Only a pseudonym of the partner's reference is kept."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="recipients")
    reference_key_id = models.CharField(max_length=16)
    reference_pseudonym = models.CharField(max_length=64)
    stage = models.CharField(max_length=32, choices=AudienceStage.choices, blank=True)
    country = models.CharField(max_length=2, blank=True)
    language = models.CharField(max_length=8, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    age = models.PositiveSmallIntegerField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=RecipientStatus.choices,
                              default=RecipientStatus.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "reference_key_id",
                                            "reference_pseudonym"],
                                    name="recipient_reference_unique"),
        ]
        indexes = [models.Index(fields=["organisation", "status"])]

    def __str__(self) -> str:
        return f"recipient {self.reference_pseudonym[:12]}…"
