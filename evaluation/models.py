"""The evidence log: exposures (who saw which arm) and outcomes, plus the evaluation engineer's
rollups and plans. Exposure and Outcome fields are the contract delivery and interventions write.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from core.vocabulary import Channel, OutcomeKind
from organisations.models import Organisation


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
    # No index of its own: the (campaign, occurred_at) index below serves look-ups by campaign,
    # and every exposure written would pay for a second one.
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE,
                                 related_name="exposures", db_index=False)
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
    # Set by the database when the row is written (statement time): on PostgreSQL the rollup
    # reads new rows by this watermark instead of updating every row (see evaluation/rollup.py).
    inserted_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["inserted_at"]),
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
                                 on_delete=models.CASCADE, related_name="outcomes",
                                 db_index=False)  # (campaign, occurred_at) serves it
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
        indexes = [
            models.Index(fields=["campaign", "occurred_at"]),
            models.Index(fields=["exposure"], condition=models.Q(rolled_up_at__isnull=True),
                         name="outcome_pending_rollup"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.occurred_at:%Y-%m-%d}"


# --- Evaluation plans (pre-registration) -----------------------------------------------------


class ComparatorKind(models.TextChoices):
    HOLDOUT = "holdout", "Holdout (no message)"
    NEUTRAL_CONTROL = "neutral_control", "Neutral control message"
    ACTIVE_STANDARD = "active_standard", "Active comparator (current standard message)"


class UnitOfAnalysis(models.TextChoices):
    SESSION = "session", "Session (each exposure)"
    RECIPIENT = "recipient", "Recipient (unique person)"
    CLUSTER = "cluster", "Cluster (e.g. partner platform)"
    DAY = "day", "Day (time-rotated designs)"


class AnalysisMethod(models.TextChoices):
    SCORE_WITH_EXACT_FALLBACK = (
        "score_exact_fallback",
        "Score/Wilson intervals; exact tests when an arm has fewer than 10 events",
    )
    POISSON_RATES = "poisson_rates", "Poisson rate ratio (exact conditional when events are few)"
    QUASI_POISSON_DAYS = (
        "quasi_poisson_days",
        "Rate ratio with day-level overdispersion (time-rotated designs)",
    )
    EXACT_MID_P = (
        "exact_mid_p",
        "Score/Wilson intervals; mid-p exact tests and intervals when an arm has fewer "
        "than 10 events",
    )


def default_guardrails() -> list[str]:
    return [OutcomeKind.OPT_OUT, OutcomeKind.COMPLAINT, OutcomeKind.DELIVERY_FAILED]


class EvaluationPlan(models.Model):
    """The pre-registered analysis of one campaign. Locked (hashed) when the campaign starts;
    afterwards it changes only through amendments that record a reason, a time and both hashes.
    Edit only through evaluation.services (plan_update / plan_amend / plan_lock)."""

    campaign = models.OneToOneField("campaigns.Campaign", on_delete=models.CASCADE,
                                    related_name="evaluation_plan")
    hypothesis = models.TextField()
    primary_outcome = models.CharField(max_length=24, choices=OutcomeKind.choices,
                                       default=OutcomeKind.HELP_CLICK)
    secondary_outcomes = models.JSONField(default=list, blank=True)
    guardrail_outcomes = models.JSONField(default=default_guardrails, blank=True)
    comparator_kind = models.CharField(max_length=24, choices=ComparatorKind.choices,
                                       default=ComparatorKind.NEUTRAL_CONTROL)
    comparator_rationale = models.TextField(
        help_text="Why this comparator is ethical (e.g. why withholding a message is acceptable).")
    unit_of_analysis = models.CharField(max_length=16, choices=UnitOfAnalysis.choices,
                                        default=UnitOfAnalysis.SESSION)
    alpha = models.FloatField(default=0.05)
    power = models.FloatField(default=0.8)
    baseline_rate = models.FloatField(
        help_text="Expected primary-outcome proportion in the comparator, e.g. 0.000175.")
    minimum_detectable_effect = models.FloatField(
        help_text="Smallest effect worth detecting (absolute, or relative if ticked).")
    mde_is_relative = models.BooleanField(default=True)
    required_sample_per_arm = models.PositiveBigIntegerField(null=True, blank=True,
                                                            editable=False)
    analysis_method = models.CharField(max_length=24, choices=AnalysisMethod.choices,
                                       default=AnalysisMethod.SCORE_WITH_EXACT_FALLBACK)
    sequential = models.BooleanField(
        default=False, help_text="Report always-valid (sequential) intervals: peeking allowed.")
    locked_at = models.DateTimeField(null=True, blank=True, editable=False)
    locked_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Evaluation plan: {self.campaign}"

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None


class PlanAmendment(models.Model):
    """A change to a locked plan: never silent, always with a reason and the hash chain."""

    plan = models.ForeignKey(EvaluationPlan, on_delete=models.CASCADE, related_name="amendments")
    reason = models.TextField()
    changes = models.JSONField(default=dict)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=120, blank=True)
    previous_hash = models.CharField(max_length=64)
    new_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"amendment {self.at:%Y-%m-%d %H:%M}: {self.reason[:40]}"


# --- Per-programme settings ------------------------------------------------------------------


class DisclosureSettings(models.Model):
    """Disclosure control for one programme's outputs (see outreach/disclosure.py)."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE,
                                        related_name="disclosure_settings")
    threshold = models.PositiveIntegerField(default=10, validators=[MinValueValidator(1)],
                                            help_text="Counts from 1 to threshold-1 are hidden.")
    rounding_base = models.PositiveIntegerField(default=5, validators=[MinValueValidator(1)])
    enabled = models.BooleanField(default=True,
                                  help_text="Can be switched off only outside production.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "disclosure settings"

    def __str__(self) -> str:
        return f"Disclosure for {self.organisation}"


class RetentionSettings(models.Model):
    """How long raw exposures and outcomes are kept; rollups are kept."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE,
                                        related_name="retention_settings")
    days_after_campaign_end = models.PositiveIntegerField(
        default=90, validators=[MaxValueValidator(395)],
        help_text="Raw events are deleted this long after the campaign ends (at most 13 months "
                  "after they happened, whatever this says).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "retention settings"

    def __str__(self) -> str:
        return f"Retention for {self.organisation}"


# --- Rollups: the only input of every statistic ----------------------------------------------


class DailyCell(models.Model):
    """Exposure and outcome counts for one campaign x arm x segment x channel x country x
    language x day (UTC). Outcomes count in the cell of the exposure they follow.

    ``segment_ref`` is the segment id or 0 (no segment): a plain integer, so the cell key has
    no NULLs (a unique key with NULLs would not deduplicate) and survives segment deletion.
    ``unique_subjects`` is distinct pseudonyms within the cell-day, exact while raw rows exist;
    it cannot be summed across days (see ArmSubjectTotal).
    """

    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE,
                                 related_name="daily_cells")
    arm = models.ForeignKey("campaigns.Arm", on_delete=models.CASCADE, related_name="daily_cells")
    segment_ref = models.BigIntegerField(default=0)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    country = models.CharField(max_length=2, blank=True)
    language = models.CharField(max_length=8, blank=True)
    day = models.DateField()
    exposures = models.BigIntegerField(default=0)
    unique_subjects = models.BigIntegerField(default=0)
    # One column per OutcomeKind (a test checks none is missing): SQL can add to them in place.
    help_click = models.BigIntegerField(default=0)
    chatbot_engaged = models.BigIntegerField(default=0)
    info_requested = models.BigIntegerField(default=0)
    helpline_contact = models.BigIntegerField(default=0)
    # Added after the others, with a database default too, so that SQL writing cells with the
    # earlier column list (the report benchmark's generator) still inserts.
    helpline_answered = models.BigIntegerField(default=0, db_default=0)
    helpline_abandoned = models.BigIntegerField(default=0, db_default=0)
    selfhelp_signup = models.BigIntegerField(default=0)
    repeat_trigger = models.BigIntegerField(default=0)
    search_abandoned = models.BigIntegerField(default=0)
    opt_out = models.BigIntegerField(default=0)
    complaint = models.BigIntegerField(default=0)
    delivery_failed = models.BigIntegerField(default=0)
    module_enrolled = models.BigIntegerField(default=0)
    module_completed = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "arm", "segment_ref", "channel", "country", "language",
                        "day"],
                name="daily_cell_key"),
        ]
        indexes = [models.Index(fields=["campaign", "day"])]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.arm_id} {self.channel} {self.country} {self.day}"


class CampaignDailyOutcome(models.Model):
    """Outcomes linked to a campaign only by its referral code (no exposure): population-level
    evidence for the interrupted time series, never attributed to an arm."""

    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE,
                                 related_name="daily_outcomes")
    kind = models.CharField(max_length=24, choices=OutcomeKind.choices)
    day = models.DateField()
    count = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "kind", "day"],
                                    name="campaign_daily_outcome_key"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.kind} {self.day}: {self.count}"


class ArmSubjectTotal(models.Model):
    """Unique subjects per arm over the whole campaign, and subjects with each outcome kind.

    Distinct counts cannot be added up from daily cells, so the rollup recomputes these from
    raw rows while they exist and never lowers them (raw rows are purged, the totals stay).
    A pseudonym key lasts one month, so a person seen in two months counts twice.
    """

    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE,
                                 related_name="arm_subject_totals")
    arm = models.OneToOneField("campaigns.Arm", on_delete=models.CASCADE,
                               related_name="subject_total")
    unique_subjects = models.BigIntegerField(default=0)
    subjects_with_outcome = models.JSONField(default=dict)
    computed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.arm_id}: {self.unique_subjects} subjects"


class RollupState(models.Model):
    """How far the PostgreSQL rollup has read exposures (by ``Exposure.inserted_at``)."""

    name = models.CharField(max_length=32, primary_key=True)
    watermark = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} up to {self.watermark:%Y-%m-%d %H:%M:%S}"


class RetentionAction(models.TextChoices):
    PURGE = "purge", "Purged raw exposures and outcomes"
    KEY_DESTROYED = "key_destroyed", "Destroyed a pseudonymisation key"


class RetentionRun(models.Model):
    """What a retention job did (the audit row points here)."""

    organisation = models.ForeignKey(Organisation, null=True, blank=True,
                                     on_delete=models.CASCADE, related_name="retention_runs")
    action = models.CharField(max_length=16, choices=RetentionAction.choices)
    details = models.JSONField(default=dict)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.action} {self.at:%Y-%m-%d}"
