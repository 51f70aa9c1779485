"""The delivery outbox: one row per (campaign step, occurrence, recipient), and channel settings.

The row is the truth; the broker only carries task wake-ups. A row moves
queued -> sending (claimed, with a lease) -> sent -> delivered, or ends failed / suppressed /
skipped with a reason. Every state change is a conditional UPDATE, so two workers can never both
move the same row, and the unique key means a re-run fan-out cannot create a second row.
"""

from __future__ import annotations

import json
import os
import time
import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from campaigns.models import CampaignStatus
from core.crypto import EncryptedTextField
from core.vocabulary import Channel
from organisations.models import Organisation

# Campaign states in which due steps fan out and queued deliveries are sent. Only running
# campaigns send: campaigns.lifecycle starts a scheduled campaign when its first flight begins,
# and pausing or cancelling one stops its sends at the next claim.
ACTIVE_CAMPAIGN_STATUSES = (CampaignStatus.RUNNING,)


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 v7): random enough to be unguessable, ordered enough that a
    million rows inserted together land at the end of the primary-key index, not all over it."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80 | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


def uuid7_hex_stream(block: int = 4096):  # type: ignore[no-untyped-def]
    """uuid7 values as 32-hex strings, cheaply, for writing a million rows at once."""
    while True:
        millis = (time.time_ns() // 1_000_000) & ((1 << 48) - 1)
        randomness = os.urandom(10 * block)
        for i in range(block):
            value = millis << 80 | int.from_bytes(randomness[10 * i:10 * i + 10], "big")
            value = (value & ~(0xF << 76)) | (0x7 << 76)
            value = (value & ~(0x3 << 62)) | (0x2 << 62)
            yield f"{value:032x}"


class DeliveryState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"
    SKIPPED = "skipped", "Skipped"


FINAL_STATES = frozenset({DeliveryState.SENT, DeliveryState.DELIVERED, DeliveryState.FAILED,
                          DeliveryState.SUPPRESSED, DeliveryState.SKIPPED})


class SkipReason(models.TextChoices):
    HOLDOUT = "holdout", "Holdout arm: no message, exposure recorded"
    FREQUENCY_CAP = "frequency_cap", "Frequency cap reached"
    NO_MESSAGE = "no_message", "No message for this channel and language"
    NO_CONTACT = "no_contact", "No contact point on this channel"
    RECIPIENT_INACTIVE = "recipient_inactive", "Recipient paused or erased"
    CAMPAIGN_ENDED = "campaign_ended", "Campaign cancelled or completed"


class Delivery(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # Fan-out writes a million of these rows at once, so each one carries as little as it can:
    # - no index of its own on a foreign key that a composite index below already leads with,
    #   or whose target is practically never deleted;
    # - no database foreign-key constraints (db_constraint=False): Django's deferred checks
    #   cost seven look-ups per row at commit, more than all the rest of the fan-out. The code
    #   keeps integrity instead: fan-out writes ids it has just read under the schedule's row
    #   lock, deletions cascade (or null out) through Django's collector, recipients are never
    #   deleted (erasure keeps the row), and a batch fails any row whose recipient is gone.
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="deliveries", db_index=False,
                                     db_constraint=False)
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE,
                                 related_name="deliveries", db_index=False,
                            db_constraint=False)
    schedule = models.ForeignKey("campaigns.Schedule", on_delete=models.CASCADE,
                                 related_name="deliveries", db_index=False,
                            db_constraint=False)
    occurrence_key = models.CharField(max_length=40)
    recipient = models.ForeignKey("segments.Recipient", on_delete=models.CASCADE,
                                  related_name="deliveries", db_constraint=False)
    segment = models.ForeignKey("segments.Segment", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+", db_index=False,
                                db_constraint=False)
    arm = models.ForeignKey("campaigns.Arm", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="deliveries", db_index=False,
                            db_constraint=False)
    message = models.ForeignKey("campaigns.Message", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="deliveries",
                                db_index=False, db_constraint=False)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    state = models.CharField(max_length=16, choices=DeliveryState.choices,
                             default=DeliveryState.QUEUED)
    reason = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=80, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=128, blank=True)
    exposure_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["schedule", "occurrence_key", "recipient"],
                                    name="delivery_once_per_occurrence"),
        ]
        indexes = [
            # The claim query: due rows of one running campaign, oldest first.
            models.Index(fields=["campaign", "next_attempt_at"], name="delivery_due",
                         condition=Q(state="queued")),
            # The sweeper: leases that ran out.
            models.Index(fields=["lease_expires_at"], name="delivery_leased",
                         condition=Q(state="sending")),
            # Progress counts per campaign.
            models.Index(fields=["campaign", "state"], name="delivery_progress"),
            # Provider status callbacks find the row by the provider's id.
            models.Index(fields=["provider_message_id"], name="delivery_provider_id",
                         condition=~Q(provider_message_id="")),
            # The admin dashboard's sends and failures of the day, per organisation. Partial:
            # fan-out inserts (not yet sent, not failed) add no entry to either.
            models.Index(fields=["organisation", "sent_at"], name="delivery_sent",
                         condition=Q(sent_at__isnull=False)),
            models.Index(fields=["organisation", "created_at"], name="delivery_failed",
                         condition=Q(state="failed")),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.state})"

    @property
    def message_id_header(self) -> str:
        """The email Message-ID: derived from the row, so a re-transmission is the same mail."""
        return f"<delivery-{self.pk}@outreach>"


class AttemptOutcome(models.TextChoices):
    RETRY = "retry", "Transient error, will retry"
    FAILED = "failed", "Permanent error"
    RELEASED = "released", "Handed back unsent (lease, pause, rate limit or window)"
    LAPSED = "lapsed", "Lease ran out (worker stopped); may be re-transmitted"


class DeliveryAttempt(models.Model):
    """A send attempt that did not succeed: the retry history managers see in the admin."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="failures")
    number = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices)
    reason = models.CharField(max_length=300)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.outcome}"


class ChannelConfig(models.Model):
    """How one organisation sends on one channel. Credentials are encrypted at rest.

    settings (non-secret JSON):
      email:   backend (dotted path; default Django SMTP), host, port, use_tls, use_ssl,
               from_email, reply_to, plus any backend-specific options (e.g. anymail's)
      sms:     base_url (Twilio-style REST API root), account_sid, from_number
      webhook: url
    credentials (secret JSON, encrypted): email {username, password} or anymail keys;
      sms {auth_token, callback_secret}; webhook {signing_secret}
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="channel_configs")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    settings = models.JSONField(default=dict, blank=True)
    credentials = EncryptedTextField(blank=True, default="",
                                     help_text="JSON object of secrets; stored encrypted.")
    rate_per_second = models.FloatField(default=10.0,
                                        help_text="Sustained sends per second, all workers.")
    burst = models.PositiveIntegerField(default=20, help_text="Sends allowed at once.")
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "channel"],
                                    name="channel_config_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.organisation}: {self.channel}"

    def secrets(self) -> dict:
        if not self.credentials:
            return {}
        value = json.loads(self.credentials)
        return value if isinstance(value, dict) else {}


class PacingLimit(models.Model):
    """A ceiling on one campaign's send rate, written by a higher layer (the helpline's beat
    task paces campaigns to its free chat capacity; see helpline/README.md). Delivery only
    reads it (delivery.pacing): it knows nothing of helplines."""

    campaign = models.OneToOneField("campaigns.Campaign", on_delete=models.CASCADE,
                                    related_name="+")
    sends_per_hour = models.FloatField(help_text="0 holds the campaign's sends.")
    reason = models.CharField(max_length=120, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(
        help_text="After this the writer stopped updating: the campaign is held (rate 0).")

    def __str__(self) -> str:
        return f"campaign {self.campaign_id}: {self.sends_per_hour:.1f}/h"
