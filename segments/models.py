"""Segments (who a campaign targets) and recipients (identifiable people who consented).

The segments engineer owns this file; the fields below are the contract other apps rely on.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from core.vocabulary import AudienceStage
from organisations.models import Organisation


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
    # Segments-engineer additions. The recipient's data key (random, 32 bytes) encrypted under
    # the field key; contact values are sealed with it. Emptied on erasure: crypto-shredding.
    data_key_wrapped = models.TextField(blank=True, default="", editable=False)
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "reference_key_id",
                                            "reference_pseudonym"],
                                    name="recipient_reference_unique"),
        ]
        indexes = [models.Index(fields=["organisation", "status"])]

    def __str__(self) -> str:
        return f"recipient {self.reference_pseudonym[:12]}…"


# ---- added by the segments engineer (new fields and models only; the contract above stays) ----


class AttributeType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    CHOICE = "choice", "Choice"


class CustomAttribute(models.Model):
    """A typed field an organisation declares for its recipients; rules may then use it."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="custom_attributes")
    name = models.CharField(max_length=63, help_text="Lower-case name used in rules, e.g. "
                            "release_date")
    type = models.CharField(max_length=16, choices=AttributeType.choices)
    choices = models.JSONField(default=list, blank=True,
                               help_text="Allowed values (choice attributes only).")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"],
                                    name="custom_attribute_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"


class ConsentBasis(models.TextChoices):
    """The lawful basis (UK/EU GDPR art. 6) on which a contact point may be used."""

    CONSENT = "consent", "Consent"
    CONTRACT = "contract", "Contract"
    LEGAL_OBLIGATION = "legal_obligation", "Legal obligation"
    VITAL_INTERESTS = "vital_interests", "Vital interests"
    PUBLIC_TASK = "public_task", "Public task"
    LEGITIMATE_INTERESTS = "legitimate_interests", "Legitimate interests"


class ContactChannel(models.TextChoices):
    """The identifiable channels a stored recipient can be reached on (values match Channel)."""

    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class ContactPoint(models.Model):
    """One way to reach a recipient. The value is sealed with the recipient's own data key.

    `value_sealed` is AES-GCM under the recipient's data key (see segments/envelope.py), so
    deleting the wrapped data key makes every contact value of that recipient unrecoverable
    even from backups (crypto-shredding). `blind_index` finds duplicates and suppressions
    without decrypting anything.
    """

    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE,
                                  related_name="contact_points")
    channel = models.CharField(max_length=8, choices=ContactChannel.choices)
    value_sealed = models.TextField(editable=False)
    blind_index = models.CharField(max_length=64, editable=False)
    consent_basis = models.CharField(max_length=32, choices=ConsentBasis.choices)
    consent_source = models.CharField(max_length=200, blank=True)
    consented_at = models.DateTimeField()
    verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recipient", "channel"],
                                    name="contact_point_channel_unique"),
        ]
        indexes = [models.Index(fields=["channel", "blind_index"])]

    def __str__(self) -> str:
        return f"{self.channel} contact of {self.recipient}"


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Bounced"
    COMPLAINT = "complaint", "Complaint"
    SAFEGUARDING_HOLD = "safeguarding_hold", "Safeguarding hold"
    MANUAL = "manual", "Manual"


class Suppression(models.Model):
    """Never send on `channel` to the contact value behind `blind_index` in this organisation.

    Keyed by the contact's blind index rather than by recipient, so the suppression survives
    re-imports, erasure and a second recipient sharing the same number or address.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="suppressions")
    channel = models.CharField(max_length=8, choices=ContactChannel.choices)
    blind_index = models.CharField(max_length=64, editable=False)
    recipient = models.ForeignKey(Recipient, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="suppressions", editable=False)
    reason = models.CharField(max_length=32, choices=SuppressionReason.choices)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "channel", "blind_index"],
                                    name="suppression_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} suppression ({self.reason})"
