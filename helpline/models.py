"""The anonymous chat helpline: services, counsellors, conversations, messages, contact records.

Nothing here identifies the person: a conversation is found by the keyed hash of a random token
that only their page holds; messages and notes are sealed with the conversation's own data key
(wrapped by the field key, see helpline/sealing.py) and become unreadable when the key is
destroyed at the end of retention. Presence, capacity and claims live in these tables, never
in Channels groups: the channel layer only says "look again".
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from directory.models import HelpResource
from organisations.models import Organisation


class Helpline(models.Model):
    """One chat service a helpline organisation runs here, listed in its directory."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="helplines")
    resource = models.OneToOneField(
        HelpResource, on_delete=models.PROTECT, related_name="hosted_helpline",
        help_text="The directory entry (kind chat) whose URL is this helpline's chat page; "
                  "its structured hours are the opening hours.")
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    chats_per_counsellor = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(10)])
    queue_limit = models.PositiveSmallIntegerField(
        default=10, validators=[MaxValueValidator(500)],
        help_text="People waiting beyond this are told the service is full.")
    retention_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Conversations are purged (their keys destroyed) after this many days.")
    safeguarding_policy = models.TextField(
        blank=True, help_text="Shown to counsellors beside every conversation.")
    acknowledgement_minutes = models.PositiveSmallIntegerField(
        default=15, validators=[MinValueValidator(1), MaxValueValidator(1440)],
        help_text="A supervisor must acknowledge a safeguarding flag within this time.")
    welcome_text = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CounsellorRole(models.TextChoices):
    COUNSELLOR = "counsellor", "Counsellor"
    SUPERVISOR = "supervisor", "Supervisor"
    MANAGER = "manager", "Manager"


class Presence(models.TextChoices):
    ONLINE = "online", "Online"
    OFFLINE = "offline", "Offline"


class Counsellor(models.Model):
    """A member of staff on one helpline, with their helpline role and presence."""

    helpline = models.ForeignKey(Helpline, on_delete=models.CASCADE, related_name="counsellors")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="counsellor_roles")
    display_name = models.CharField(max_length=60, help_text="What the person sees.")
    role = models.CharField(max_length=16, choices=CounsellorRole.choices,
                            default=CounsellorRole.COUNSELLOR)
    presence = models.CharField(max_length=8, choices=Presence.choices, default=Presence.OFFLINE)
    # The console sends a heartbeat; a closed laptop stops counting as capacity.
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["helpline", "user"],
                                               name="helpline_counsellor_unique")]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.role})"


class ConversationState(models.TextChoices):
    WAITING = "waiting", "Waiting in the queue"
    ACTIVE = "active", "With a counsellor"
    ENDED = "ended", "Ended"
    ABANDONED = "abandoned", "Left the queue"


class CallerType(models.TextChoices):
    OWN_THOUGHTS = "own_thoughts", "Worried about own thoughts or behaviour"
    SOMEONE_ELSE = "someone_else", "Worried about someone else"
    PROFESSIONAL = "professional", "Professional"
    SURVIVOR = "survivor", "Survivor"
    OTHER = "other", "Other"
    NOT_SAID = "not_said", "Did not say"


class HeardVia(models.TextChoices):
    SIGNED_LINK = "signed_link", "A help link in a message"
    REFERRAL_CODE = "referral_code", "A referral code"
    SEARCH = "search", "Searching online"
    SOMEONE_TOLD = "someone_told", "Someone told them"
    OTHER = "other", "Other"
    NOT_SAID = "not_said", "Did not say"


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    helpline = models.ForeignKey(Helpline, on_delete=models.CASCADE, related_name="conversations")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="helpline_conversations")
    # Keyed hashes only (core.crypto.blind_index): the raw token lives in the person's page.
    token_hash = models.CharField(max_length=64, null=True, unique=True)
    resume_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    resume_expires_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=12, choices=ConversationState.choices,
                             default=ConversationState.WAITING)
    caller_type = models.CharField(max_length=16, choices=CallerType.choices,
                                   default=CallerType.NOT_SAID)
    heard_via = models.CharField(max_length=16, choices=HeardVia.choices,
                                 default=HeardVia.NOT_SAID)
    # Attribution: the campaign (from the signed link or a referral code), never the person.
    campaign = models.ForeignKey("campaigns.Campaign", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    referral_code = models.CharField(max_length=32, blank=True)
    country = models.CharField(max_length=2, blank=True)
    data_key = models.TextField(blank=True, help_text="Wrapped; emptied at purge (crypto-shred).")
    counsellor = models.ForeignKey(Counsellor, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="conversations")
    next_sequence = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    person_seen_at = models.DateTimeField(default=timezone.now)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["helpline", "state", "created_at"]),
            models.Index(fields=["created_at"]),
        ]

    def __str__(self) -> str:
        return f"conversation {str(self.pk)[:8]} ({self.state})"


class Sender(models.TextChoices):
    PERSON = "person", "Person"
    COUNSELLOR = "counsellor", "Counsellor"
    SYSTEM = "system", "System"


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE,
                                     related_name="messages")
    sequence = models.PositiveIntegerField()
    sender = models.CharField(max_length=12, choices=Sender.choices)
    counsellor = models.ForeignKey(Counsellor, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    body = models.TextField(help_text="Sealed with the conversation's data key.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["conversation", "sequence"]
        constraints = [models.UniqueConstraint(fields=["conversation", "sequence"],
                                               name="helpline_message_sequence_unique")]

    def __str__(self) -> str:
        return f"message {self.sequence}"


class Concern(models.TextChoices):
    OWN_THOUGHTS = "own_thoughts", "Own thoughts or urges"
    ONLINE_BEHAVIOUR = "online_behaviour", "Own online behaviour"
    ADULT_BEHAVIOUR = "adult_behaviour", "Another adult's behaviour"
    CHILD_BEHAVIOUR = "child_behaviour", "A child's sexual behaviour"
    PAST_ABUSE = "past_abuse", "Abuse experienced in the past"
    LEGAL = "legal", "Legal questions"
    WELLBEING = "wellbeing", "Wellbeing or distress"
    OTHER = "other", "Other"


class Offered(models.TextChoices):
    INFORMATION = "information", "Information"
    REFERRAL = "referral", "Referral"
    SAFEGUARDING = "safeguarding", "Safeguarding"
    SELF_HELP = "self_help", "Self-help"


class ContactRecord(models.Model):
    """What a conversation was about, in categories; the note is sealed with its data key."""

    helpline = models.ForeignKey(Helpline, on_delete=models.CASCADE,
                                 related_name="contact_records")
    conversation = models.OneToOneField(Conversation, null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="contact_record")
    counsellor = models.ForeignKey(Counsellor, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    caller_type = models.CharField(max_length=16, choices=CallerType.choices)
    concerns = models.JSONField(default=list, blank=True)
    offered = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True, help_text="Sealed; emptied at purge.")
    day = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"contact record {self.day}"


class SafeguardingCategory(models.TextChoices):
    CHILD_AT_RISK = "child_at_risk", "A child at identifiable risk"
    PERSON_AT_RISK = "person_at_risk", "The person is at risk of harm"
    OTHER = "other", "Other safeguarding concern"


class SafeguardingFlag(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE,
                                     related_name="safeguarding_flags")
    helpline = models.ForeignKey(Helpline, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=24, choices=SafeguardingCategory.choices)
    raised_by = models.ForeignKey(Counsellor, null=True, on_delete=models.SET_NULL,
                                  related_name="+")
    raised_at = models.DateTimeField(default=timezone.now)
    acknowledge_by = models.DateTimeField()
    reraised_count = models.PositiveSmallIntegerField(default=0)
    acknowledged_by = models.ForeignKey(Counsellor, null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["acknowledged_at", "acknowledge_by"])]

    def __str__(self) -> str:
        return f"{self.category} flag"


class PacedCampaign(models.Model):
    """A campaign that signposts this helpline and chose to pace its sends to free capacity."""

    helpline = models.ForeignKey(Helpline, on_delete=models.CASCADE, related_name="paced")
    campaign = models.OneToOneField("campaigns.Campaign", on_delete=models.CASCADE,
                                    related_name="+")
    prior_contact_rate = models.FloatField(
        default=0.01, validators=[MinValueValidator(1e-6), MaxValueValidator(1.0)],
        help_text="Chats per message sent, assumed until the campaign's own exposures say "
                  "more. Err high: a high prior under-sends at first, a low one floods.")
    prior_weight = models.PositiveIntegerField(
        default=2000, help_text="The prior counts as this many exposures.")
    mean_chat_minutes = models.PositiveSmallIntegerField(default=20)

    def __str__(self) -> str:
        return f"pace {self.campaign_id} to {self.helpline}"
