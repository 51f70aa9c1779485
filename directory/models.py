"""The help-service directory: what every message signposts, and the law it may quote.

Each programme organisation keeps its own copy (imported from the shared reference data) and
confirms each record itself: a wrong phone number sends a person who finally asked for help
into a dead end, so only confirmed, fresh, displayable records are signposted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from directory.hours import Period, is_open_at, validate_time_zone
from organisations.models import Organisation


class ResourceKind(models.TextChoices):
    HELPLINE = "helpline", "Helpline"
    CHAT = "chat", "Chat"
    EMAIL = "email", "Email"
    SELF_HELP_PROGRAMME = "self_help_programme", "Self-help programme"
    WEBSITE = "website", "Website"
    THERAPY_REFERRAL = "therapy_referral", "Therapy referral"


# Kinds a person can use at any time: with no structured hours they count as open.
ALWAYS_AVAILABLE_KINDS = frozenset(
    {ResourceKind.WEBSITE, ResourceKind.SELF_HELP_PROGRAMME, ResourceKind.EMAIL})


def open_at(periods: Sequence[Period], *, kind: str, time_zone: str,
            at: datetime) -> bool | None:
    """Whether a resource with these weekly periods is open at `at`; None when we cannot say.

    No structured hours: websites, self-help programmes and email are always available; live
    routes (helplines, chat, therapy referral) are "hours unknown" (None), shown but never as
    open now.
    """
    if not periods:
        return True if kind in ALWAYS_AVAILABLE_KINDS else None
    return is_open_at(periods, time_zone=time_zone, at=at)


class ResourceAudience(models.TextChoices):
    """The shared data's audience vocabulary (see core.vocabulary.STAGE_RESOURCE_AUDIENCES)."""

    AT_RISK_SELF = "at_risk_self", "Worried about own thoughts or behaviour"
    OFFENDER = "offender", "Has offended"
    YOUNG_PERSON = "young_person_concerned_about_self", "Young person worried about themselves"
    CONCERNED_FAMILY_OR_FRIEND = "concerned_family_or_friend", "Concerned family or friend"
    PROFESSIONAL = "professional", "Professional"
    SURVIVOR = "survivor", "Survivor"


class SourceStatus(models.TextChoices):
    VERIFIED = "verified", "Verified (a contact route is confirmed)"
    PARTIALLY_VERIFIED = "partially_verified", "Partially verified (key fields missing)"
    EXISTENCE_ONLY = ("existence_confirmed_contact_unverified",
                      "Existence confirmed, contact unverified (never displayed)")


class VerificationStatus(models.TextChoices):
    NEEDS_VERIFICATION = "needs_verification", "Needs verification"
    CONFIRMED = "confirmed", "Confirmed"
    STALE = "stale", "Stale (confirmation too old)"
    NOT_DISPLAYABLE = "not_displayable", "Not displayable"


phone_validator = RegexValidator(
    r"^\+[1-9]\d{6,14}\Z", "Enter the number in E.164 form, e.g. +448081000900.")
country_code = RegexValidator(r"^[A-Z]{2}\Z", "Use an ISO 3166-1 alpha-2 code such as GB.")
language_code = RegexValidator(r"^[a-z]{2}\Z", "Use an ISO 639-1 code such as en.")
jurisdiction_code = RegexValidator(
    r"^[A-Z]{2}(-[A-Z0-9]{1,3})?\Z", "Use an ISO 3166-1 or 3166-2 code such as GB or GB-ENG.")


def _validate_each(validator: RegexValidator, values: object, what: str) -> None:
    if not isinstance(values, list):
        raise ValidationError(f"Enter a list of {what}.")
    for value in values:
        validator(value)


def validate_countries(values: object) -> None:
    if values == ["*"]:
        return
    _validate_each(country_code, values, 'country codes (or ["*"])')


def validate_languages(values: object) -> None:
    _validate_each(language_code, values, "language codes")


def validate_audiences(values: object) -> None:
    if not isinstance(values, list):
        raise ValidationError("Enter a list of audiences.")
    unknown = sorted(set(map(str, values)) - set(ResourceAudience.values))
    if unknown:
        raise ValidationError(f"Unknown audience(s): {', '.join(unknown)}.")


def validate_jurisdictions(values: object) -> None:
    _validate_each(jurisdiction_code, values, "jurisdiction codes")


def stale_after_days_for(organisation: Organisation) -> int:
    """The organisation's own policy window if it set one, else the site default."""
    policy = DirectoryPolicy.objects.filter(organisation=organisation).first()
    return policy.stale_after_days if policy else settings.HELP_RESOURCE_STALE_AFTER_DAYS


class DirectoryPolicy(models.Model):
    """A programme's own confirmation window (default: settings.HELP_RESOURCE_STALE_AFTER_DAYS)."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE,
                                        related_name="directory_policy")
    stale_after_days = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="A confirmation older than this many days makes a record stale.")

    class Meta:
        verbose_name = "directory policy"
        verbose_name_plural = "directory policies"

    def __str__(self) -> str:
        return f"{self.organisation}: stale after {self.stale_after_days} days"


class HelpResourceQuerySet(models.QuerySet):
    def displayable(self) -> HelpResourceQuerySet:
        """Has a confirmed way to reach it: not existence-only, and a phone or a URL."""
        return self.exclude(source_status=SourceStatus.EXISTENCE_ONLY).filter(
            Q(phone__gt="") | Q(url__gt=""))

    def confirmed_since(self, since: datetime) -> HelpResourceQuerySet:
        return self.filter(confirmed_at__isnull=False, confirmed_at__gte=since)


class HelpResource(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="help_resources")
    slug = models.SlugField(max_length=120)
    name = models.CharField(max_length=200)
    provider_organisation = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=32, choices=ResourceKind.choices)
    audiences = models.JSONField(default=list, blank=True, validators=[validate_audiences])
    countries = models.JSONField(
        default=list, blank=True, validators=[validate_countries],
        help_text='ISO 3166-1 alpha-2 codes, or ["*"] for an online service open worldwide; '
                  "empty when unknown.")
    languages = models.JSONField(default=list, blank=True, validators=[validate_languages],
                                 help_text="ISO 639-1 codes; empty when unknown.")
    phone = models.CharField(max_length=16, null=True, blank=True, validators=[phone_validator],
                             help_text="E.164, e.g. +448081000900.")
    url = models.URLField(max_length=500, null=True, blank=True)
    opening_hours_text = models.TextField(
        blank=True, help_text="Opening hours as the source stated them (often historical).")
    time_zone = models.CharField(
        max_length=64, blank=True, validators=[validate_time_zone],
        help_text="IANA time zone of the structured hours, e.g. Europe/London.")
    structured_hours_note = models.CharField(
        max_length=300, blank=True,
        help_text="Where the structured hours come from (e.g. 'demo only, not confirmed').")
    anonymous = models.BooleanField(null=True, blank=True)
    cost = models.CharField(max_length=120, blank=True)
    sources = models.JSONField(default=list, blank=True)
    field_sources = models.JSONField(default=dict, blank=True)
    inferred_fields = models.JSONField(default=list, blank=True)
    caveats = models.JSONField(default=list, blank=True)
    source_status = models.CharField(max_length=48, choices=SourceStatus.choices)
    source_checked_on = models.DateField(null=True, blank=True)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmation_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = HelpResourceQuerySet.as_manager()

    class Meta:
        ordering = ["name", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "slug"],
                                    name="help_resource_slug_unique_per_organisation"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def displayable(self) -> bool:
        """False when there is no confirmed way to reach the service (see the queryset)."""
        if self.source_status == SourceStatus.EXISTENCE_ONLY:
            return False
        return bool(self.phone or self.url)

    def verification_status(self, *, now: datetime | None = None,
                            stale_after_days: int | None = None) -> str:
        if not self.displayable:
            return VerificationStatus.NOT_DISPLAYABLE
        if self.confirmed_at is None:
            return VerificationStatus.NEEDS_VERIFICATION
        window = timedelta(days=stale_after_days if stale_after_days is not None
                           else stale_after_days_for(self.organisation))
        if self.confirmed_at < (now or timezone.now()) - window:
            return VerificationStatus.STALE
        return VerificationStatus.CONFIRMED

    def periods(self) -> list[Period]:
        """The weekly opening periods (from prefetched `opening_hours` when there are some)."""
        return [Period(h.weekday, h.opens, h.closes) for h in self.opening_hours.all()]

    def is_open(self, at: datetime | None = None) -> bool | None:
        """True/False from the structured hours; None when we cannot say (see `open_at`)."""
        return open_at(self.periods(), kind=self.kind, time_zone=self.time_zone,
                       at=at or timezone.now())

    def clean(self) -> None:
        if self.phone == "":
            self.phone = None
        if self.url == "":
            self.url = None


class Weekday(models.IntegerChoices):
    MONDAY = 1, "Monday"
    TUESDAY = 2, "Tuesday"
    WEDNESDAY = 3, "Wednesday"
    THURSDAY = 4, "Thursday"
    FRIDAY = 5, "Friday"
    SATURDAY = 6, "Saturday"
    SUNDAY = 7, "Sunday"


class OpeningHours(models.Model):
    """One weekly period in the resource's time zone; closes <= opens runs past midnight."""

    resource = models.ForeignKey(HelpResource, on_delete=models.CASCADE,
                                 related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField(help_text="At or before 'opens' means the next day (past midnight).")

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name_plural = "opening hours"

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"

    def as_dict(self) -> dict:
        return {"weekday": self.weekday, "opens": f"{self.opens:%H:%M}",
                "closes": f"{self.closes:%H:%M}"}


class LegalNotice(models.Model):
    """What the law says in one jurisdiction (ISO 3166-1 such as DE or 3166-2 such as GB-ENG)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="legal_notices")
    jurisdiction = models.CharField(max_length=6, validators=[jurisdiction_code])
    also_applies_to = models.JSONField(default=list, blank=True,
                                       validators=[validate_jurisdictions])
    level = models.CharField(max_length=200, blank=True,
                             help_text="E.g. 'Commonwealth (federal)' where the source says so.")
    confidence = models.TextField(blank=True)
    confidentiality_note = models.TextField(
        blank=True, help_text="Limits of confidentiality and mandatory reporting, where known.")
    source_checked_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["jurisdiction"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "jurisdiction"],
                                    name="legal_notice_unique_per_organisation"),
        ]

    def __str__(self) -> str:
        return f"Legal notice {self.jurisdiction}"

    def applies_to(self, jurisdiction: str) -> bool:
        return jurisdiction == self.jurisdiction or jurisdiction in (self.also_applies_to or [])


class Statute(models.Model):
    notice = models.ForeignKey(LegalNotice, on_delete=models.CASCADE, related_name="statutes")
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=300)
    section = models.CharField(max_length=120, blank=True)
    offence_summary = models.TextField()
    max_penalty = models.TextField(blank=True)
    source = models.URLField(max_length=1000, blank=True)
    supporting_sources = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.name} {self.section}".strip()

    def as_dict(self) -> dict:
        return {"name": self.name, "section": self.section,
                "offence_summary": self.offence_summary, "max_penalty": self.max_penalty,
                "source": self.source, "supporting_sources": list(self.supporting_sources)}
