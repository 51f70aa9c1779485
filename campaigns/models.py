"""Campaigns as programme managers author them. The campaigns engineer owns this file; the
fields below are the contract the delivery engine, interventions and evaluation rely on.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.vocabulary import Channel
from organisations.models import Organisation


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class AssignmentDesign(models.TextChoices):
    PER_PERSON = "per_person", "Randomised per person"
    TIME_ROTATED = "time_rotated", "Rotated by day (for partners who cannot randomise)"


class Framing(models.TextChoices):
    LEGAL_DETERRENCE = "legal_deterrence", "Legal deterrence"
    HARM_TO_VICTIMS = "harm_to_victims", "Harm to victims"
    HELP_THERAPEUTIC = "help_therapeutic", "Help / therapeutic"
    NEUTRAL_CONTROL = "neutral_control", "Neutral control"


class Polarity(models.TextChoices):
    WARNING = "warning", "Warning (loss-framed)"
    SUPPORTIVE = "supportive", "Supportive (gain-framed)"
    NEUTRAL = "neutral", "Neutral"


class ArmKind(models.TextChoices):
    VARIANT = "variant", "Variant"
    COMPARATOR = "comparator", "Active comparator (current standard message)"
    HOLDOUT = "holdout", "Holdout (no message)"


def new_seed() -> str:
    return secrets.token_hex(16)


def new_referral_code() -> str:
    # Short and unambiguous so a helpline caller can quote it (no 0/O, 1/I).
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(6))


class Campaign(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="campaigns")
    name = models.CharField(max_length=200)
    objective = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=CampaignStatus.choices,
                              default=CampaignStatus.DRAFT, editable=False)
    priority = models.IntegerField(default=0, help_text="Higher wins when several match.")
    channels = models.JSONField(default=list, help_text=f"Any of {Channel.values}")
    segments = models.ManyToManyField("segments.Segment", related_name="campaigns", blank=True)
    partners = models.ManyToManyField(Organisation, related_name="enrolled_campaigns",
                                      blank=True,
                                      help_text="Partner organisations whose platforms show it.")
    frequency_cap_count = models.PositiveIntegerField(default=1)
    frequency_cap_days = models.PositiveIntegerField(default=7)
    design = models.CharField(max_length=16, choices=AssignmentDesign.choices,
                              default=AssignmentDesign.PER_PERSON)
    assignment_seed = models.CharField(max_length=64, default=new_seed, editable=False)
    assignment_namespace = models.CharField(
        max_length=64, blank=True,
        help_text="Campaigns sharing a namespace never assign the same person to both.")
    # Within a namespace each campaign owns the sub-range [offset, offset + share) of the
    # namespace's unit interval (see campaigns/assignment.py); ranges must not overlap.
    namespace_offset = models.DecimalField(
        max_digits=7, decimal_places=6, default=0,
        help_text="Start of this campaign's slice of the namespace (0 to 1).")
    namespace_share = models.DecimalField(
        max_digits=7, decimal_places=6, default=1,
        help_text="Width of this campaign's slice of the namespace (0 to 1).")
    countries = models.JSONField(
        default=list, blank=True,
        help_text="ISO 3166-1 countries the audience lives in, e.g. [\"GB\"].")
    languages = models.JSONField(
        default=list, blank=True,
        help_text="Languages the audience needs; every channel needs a message in each.")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+",
                                     editable=False)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+",
                                    editable=False)
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A hash of the content the reviewer approved: editing content after approval changes it.
    content_hash = models.CharField(max_length=64, blank=True, editable=False)
    approved_snapshot = models.JSONField(default=dict, blank=True, editable=False)
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    referral_code = models.CharField(max_length=12, unique=True, default=new_referral_code)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "name"]

    def __str__(self) -> str:
        return self.name


class Flight(models.Model):
    """An active date range; the gaps between flights are the 'off' periods for evaluation."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="flights")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at"]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d} to {self.ends_at:%Y-%m-%d}" if self.ends_at else \
            f"from {self.starts_at:%Y-%m-%d}"


class Message(models.Model):
    """A reusable message in one channel and language. Body and subject are templates."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="messages")
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    language = models.CharField(max_length=8)
    framing = models.CharField(max_length=24, choices=Framing.choices)
    polarity = models.CharField(max_length=16, choices=Polarity.choices, default=Polarity.NEUTRAL)
    subject = models.CharField(max_length=200, blank=True, help_text="Email subject / title.")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "language"]

    def __str__(self) -> str:
        return f"{self.name} [{self.channel}/{self.language}]"


class Arm(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="arms")
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=16, choices=ArmKind.choices, default=ArmKind.VARIANT)
    weight = models.DecimalField(max_digits=7, decimal_places=4, default=1,
                                 help_text="Allocation weight (relative to the other arms).")
    messages = models.ManyToManyField(Message, related_name="arms", blank=True)

    class Meta:
        ordering = ["campaign", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "name"], name="arm_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign}: {self.name}"


class ScheduleKind(models.TextChoices):
    ONE_OFF = "one_off", "Once, at a time"
    RECURRING = "recurring", "Recurring"
    RELATIVE = "relative", "Relative to a recipient date"


class Recurrence(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class Schedule(models.Model):
    """A campaign step: when scheduled messages go out. Due work becomes rows, never ETAs."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="schedules")
    kind = models.CharField(max_length=16, choices=ScheduleKind.choices)
    send_at = models.DateTimeField(null=True, blank=True)
    recurrence = models.CharField(max_length=16, choices=Recurrence.choices, blank=True)
    time_of_day = models.TimeField(null=True, blank=True)
    relative_attribute = models.CharField(max_length=64, blank=True)
    offset_days = models.IntegerField(default=0)
    window_start = models.TimeField(null=True, blank=True,
                                    help_text="Earliest recipient-local send time.")
    window_end = models.TimeField(null=True, blank=True,
                                  help_text="Latest recipient-local send time.")
    window_weekdays = models.JSONField(default=list, blank=True,
                                       help_text="Allowed ISO weekdays 1-7; empty means all.")
    next_fire_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    channel = models.CharField(max_length=16, choices=Channel.choices, blank=True,
                               help_text="Channel this step sends on (email or SMS).")

    class Meta:
        ordering = ["campaign", "pk"]

    def __str__(self) -> str:
        return f"{self.campaign}: {self.get_kind_display()}"
