"""Tenancy: every object in Outreach belongs to an organisation."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class OrganisationKind(models.TextChoices):
    PROGRAMME_OWNER = "programme_owner", "Programme owner"
    PARTNER_PLATFORM = "partner_platform", "Partner platform"
    HELPLINE = "helpline", "Helpline"
    PROBATION_JUSTICE = "probation_justice", "Probation / justice"
    RESEARCH = "research", "Research"


class Role(models.TextChoices):
    MANAGER = "manager", "Manager"
    REVIEWER = "reviewer", "Reviewer"
    ANALYST = "analyst", "Analyst"
    VIEWER = "viewer", "Viewer"


class ApiScope(models.TextChoices):
    HELP_RESOURCES_READ = "help_resources:read", "Read help resources and legal notices"
    INTERVENTIONS_WRITE = "interventions:write", "Request live interventions"
    OUTCOMES_WRITE = "outcomes:write", "Report outcomes"
    RECIPIENTS_WRITE = "recipients:write", "Upload and erase recipients"
    RECIPIENTS_READ = "recipients:read", "Read recipients"
    SEGMENTS_READ = "segments:read", "Read segments"
    SEGMENTS_WRITE = "segments:write", "Write segments"
    CAMPAIGNS_READ = "campaigns:read", "Read campaigns"
    CAMPAIGNS_WRITE = "campaigns:write", "Write campaigns"
    REPORTS_READ = "reports:read", "Read evaluation reports"


class Organisation(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=32, choices=OrganisationKind.choices)
    time_zone = models.CharField(max_length=64, default="UTC")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Partnership(models.Model):
    """A partner (platform, helpline, probation service, researcher) working with a programme.

    A partner reads its programmes' help directory and is enrolled in their campaigns.
    """

    programme = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                  related_name="partnerships")
    partner = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                related_name="programme_partnerships")
    triggers = models.JSONField(
        default=list, blank=True,
        help_text="Trigger categories this partner may send, e.g. search_blocked_term.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["programme", "partner"], name="partnership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.partner} with {self.programme}"


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="memberships")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation} ({self.role})"


class ApiKey(models.Model):
    """A partner's key. Only a SHA-256 of the secret is stored; the prefix finds the row."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="api_keys")
    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, *, now) -> bool:  # type: ignore[no-untyped-def]
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now


class AuditEvent(models.Model):
    """Who changed what, written in the same transaction as the change."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="audit_events", null=True, blank=True)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    actor_api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=64)
    changes = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type}#{self.object_id}"
