"""Authoring writes: campaigns, flights, arms, messages and schedules.

Each is keyword-only, atomic and audited. Content may change only while the campaign is
editable (draft, in review, approved); an edit of an in-review or approved campaign returns it
to draft (`campaigns.lifecycle.campaign_content_changed`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from campaigns.content import CAMPAIGN_FIELDS, MESSAGE_FIELDS, SCHEDULE_FIELDS, iso_or_none
from campaigns.launch import namespace_validate
from campaigns.lifecycle import (
    EDITABLE,
    NotAllowed,
    campaign_content_changed,
    require_editable,
)
from campaigns.models import (
    Arm,
    ArmKind,
    AssignmentDesign,
    Campaign,
    Flight,
    Framing,
    Message,
    Polarity,
    Recurrence,
    Schedule,
    ScheduleKind,
)
from campaigns.rendering import message_validate
from campaigns.schedules import schedule_problems
from core.errors import Conflict, InvalidInput
from core.vocabulary import Channel
from organisations.models import Organisation, OrganisationKind, Partnership
from organisations.services import Actor, audit_record

SCHEDULED_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.WEBHOOK)
COUNTRY = re.compile(r"^[A-Z]{2}\Z")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?\Z")
MAX_WEIGHT = Decimal("999")


def _require_programme(organisation: Organisation) -> None:
    if organisation.kind != OrganisationKind.PROGRAMME_OWNER:
        raise NotAllowed("Only programme organisations author campaigns.")


def _clean_codes(values: Any, *, field: str, pattern: re.Pattern, example: str,
                 upper: bool) -> list[str]:
    if not isinstance(values, list | tuple):
        raise InvalidInput(f"Give a list of codes such as [\"{example}\"].", field=field)
    cleaned = []
    for value in values:
        code = str(value).strip()
        code = code.upper() if upper else code
        if not pattern.match(code):
            raise InvalidInput(f"'{value}' is not a valid code (e.g. {example}).", field=field)
        if code not in cleaned:
            cleaned.append(code)
    return cleaned


def _clean_campaign_fields(fields: dict) -> dict:
    unknown = set(fields) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    cleaned = dict(fields)
    if "name" in cleaned and not str(cleaned["name"]).strip():
        raise InvalidInput("A campaign needs a name.", field="name")
    if "channels" in cleaned:
        channels = cleaned["channels"]
        if not isinstance(channels, list | tuple) or any(c not in Channel.values
                                                         for c in channels):
            raise InvalidInput(f"Channels must be among {', '.join(Channel.values)}.",
                               field="channels")
        cleaned["channels"] = list(dict.fromkeys(channels))
    if "countries" in cleaned:
        cleaned["countries"] = _clean_codes(cleaned["countries"], field="countries",
                                            pattern=COUNTRY, example="GB", upper=True)
    if "languages" in cleaned:
        cleaned["languages"] = _clean_codes(cleaned["languages"], field="languages",
                                            pattern=LANGUAGE, example="en", upper=False)
    for name in ("frequency_cap_count", "frequency_cap_days"):
        if name in cleaned and (not isinstance(cleaned[name], int) or cleaned[name] < 1):
            raise InvalidInput("Must be a whole number of at least 1.", field=name)
    if "design" in cleaned and cleaned["design"] not in AssignmentDesign.values:
        raise InvalidInput(f"Design must be one of {', '.join(AssignmentDesign.values)}.",
                           field="design")
    for name in ("namespace_offset", "namespace_share"):
        if name in cleaned:
            cleaned[name] = _decimal(cleaned[name], field=name, low=Decimal(0),
                                     high=Decimal(1))
    return cleaned


def _decimal(value: Any, *, field: str, low: Decimal, high: Decimal) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"'{value}' is not a number.", field=field) from None
    if not number.is_finite() or not low <= number <= high:
        raise InvalidInput(f"Must be between {low} and {high}.", field=field)
    return number


def _clean_segments(organisation: Organisation, segments: Iterable[Any]) -> list[Any]:
    segments = list(segments)
    if any(s.organisation_id != organisation.pk for s in segments):
        raise InvalidInput("A segment belongs to another organisation.", field="segments")
    return segments


def _clean_partners(organisation: Organisation, partners: Iterable[Organisation]
                    ) -> list[Organisation]:
    partners = list(partners)
    partnered = set(Partnership.objects.filter(programme=organisation)
                    .values_list("partner_id", flat=True))
    for partner in partners:
        if partner.pk not in partnered:
            raise InvalidInput("Unknown partner organisation(s): only organisations in "
                               "partnership with this programme can be enrolled.",
                               field="partners")
    return partners


@transaction.atomic
def campaign_create(*, organisation: Organisation, actor: Actor, name: str,
                    segments: Iterable[Any] = (), partners: Iterable[Organisation] = (),
                    **fields: Any) -> Campaign:
    _require_programme(organisation)
    cleaned = _clean_campaign_fields({"name": name, **fields})
    segments = _clean_segments(organisation, segments)
    partners = _clean_partners(organisation, partners)
    campaign = Campaign(organisation=organisation, created_by=actor.signed_in_user, **cleaned)
    namespace_validate(campaign)
    campaign.save()
    campaign.segments.set(segments)
    campaign.partners.set(partners)
    audit_record(organisation=organisation, actor=actor, action="campaign.create",
                 target=campaign, changes={"name": campaign.name})
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, actor: Actor, segments: Iterable[Any] | None = None,
                    partners: Iterable[Organisation] | None = None, **fields: Any) -> Campaign:
    """Edit a campaign; an in-review or approved one returns to draft (audited)."""
    campaign.status = _campaign_for_update(campaign).status
    require_editable(campaign)
    cleaned = _clean_campaign_fields(fields)
    for name, value in cleaned.items():
        setattr(campaign, name, value)
    namespace_validate(campaign)
    campaign.save()
    if segments is not None:
        campaign.segments.set(_clean_segments(campaign.organisation, segments))
    if partners is not None:
        campaign.partners.set(_clean_partners(campaign.organisation, partners))
    changed = sorted([*cleaned, *(["segments"] if segments is not None else []),
                      *(["partners"] if partners is not None else [])])
    audit_record(organisation=campaign.organisation, actor=actor, action="campaign.update",
                 target=campaign, changes={"fields": changed})
    return campaign_content_changed(campaign=campaign, actor=actor)


def _campaign_for_update(campaign: Campaign) -> Campaign:
    # Lock the row so an edit and a transition on the same campaign are serialised.
    return Campaign.objects.select_for_update(of=("self",)).select_related("organisation").get(
        pk=campaign.pk)


@transaction.atomic
def flight_create(*, campaign: Campaign, actor: Actor, starts_at: datetime,
                  ends_at: datetime | None = None) -> Flight:
    campaign = _campaign_for_update(campaign)
    require_editable(campaign)
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidInput("A flight must end after it starts.", field="ends_at")
    flight = Flight.objects.create(campaign=campaign, starts_at=starts_at, ends_at=ends_at)
    audit_record(organisation=campaign.organisation, actor=actor, action="flight.create",
                 target=flight,
                 changes={"starts_at": iso_or_none(starts_at), "ends_at": iso_or_none(ends_at)})
    campaign_content_changed(campaign=campaign, actor=actor)
    return flight


@transaction.atomic
def flight_delete(*, flight: Flight, actor: Actor) -> None:
    campaign = _campaign_for_update(flight.campaign)
    require_editable(campaign)
    audit_record(organisation=campaign.organisation, actor=actor, action="flight.delete",
                 target=flight)
    flight.delete()
    campaign_content_changed(campaign=campaign, actor=actor)


def _clean_messages(campaign: Campaign, messages: Iterable[Message], kind: str) -> list[Message]:
    messages = list(messages)
    if any(m.organisation_id != campaign.organisation_id for m in messages):
        raise InvalidInput("A message belongs to another organisation.", field="messages")
    if kind == ArmKind.HOLDOUT and messages:
        raise InvalidInput("A holdout arm shows no message: leave its messages empty.",
                           field="messages")
    return messages


def _check_weights(campaign: Campaign, *, arm: Arm, weight: Decimal, kind: str) -> None:
    """Weights are relative; refuse totals that cannot allocate anyone sensibly."""
    others = list(campaign.arms.exclude(pk=arm.pk))
    if kind == ArmKind.HOLDOUT and any(o.kind == ArmKind.HOLDOUT for o in others):
        raise InvalidInput("A campaign has at most one holdout arm.", field="kind")
    weights = [(o.kind, o.weight) for o in others] + [(kind, weight)]
    total = sum((w for _, w in weights), Decimal(0))
    showing = sum((w for k, w in weights if k != ArmKind.HOLDOUT), Decimal(0))
    if total <= 0:
        raise InvalidInput("The arms' weights add up to 0: nobody would be assigned.",
                           field="weight")
    if showing <= 0 and len(weights) > 1:
        raise InvalidInput("Every weight is on the holdout: nobody would see a message.",
                           field="weight")


@transaction.atomic
def arm_save(*, campaign: Campaign, actor: Actor, arm: Arm | None = None, name: str,
             kind: str = ArmKind.VARIANT, weight: Any = 1,
             messages: Iterable[Message] = ()) -> Arm:
    """Create (arm=None) or update an arm with its allocation weight and messages."""
    campaign = _campaign_for_update(campaign)
    require_editable(campaign)
    if not str(name).strip():
        raise InvalidInput("An arm needs a name.", field="name")
    if kind not in ArmKind.values:
        raise InvalidInput(f"Kind must be one of {', '.join(ArmKind.values)}.", field="kind")
    weight = _decimal(weight, field="weight", low=Decimal(0), high=MAX_WEIGHT)
    messages = _clean_messages(campaign, messages, kind)
    arm = arm or Arm(campaign=campaign)
    if Arm.objects.filter(campaign=campaign, name=name).exclude(pk=arm.pk).exists():
        raise InvalidInput(f"The campaign already has an arm named '{name}'.", field="name")
    _check_weights(campaign, arm=arm, weight=weight, kind=kind)
    created = arm.pk is None
    arm.name, arm.kind, arm.weight = name, kind, weight
    arm.save()
    arm.messages.set(messages)
    audit_record(organisation=campaign.organisation, actor=actor,
                 action="arm.create" if created else "arm.update", target=arm,
                 changes={"name": name, "kind": kind, "weight": str(weight),
                          "messages": [m.pk for m in messages]})
    campaign_content_changed(campaign=campaign, actor=actor)
    return arm


@transaction.atomic
def arm_delete(*, arm: Arm, actor: Actor) -> None:
    campaign = _campaign_for_update(arm.campaign)
    require_editable(campaign)
    if arm.exposures.exists():
        raise Conflict("This arm already has exposures: it cannot be deleted.",
                       current_state=campaign.status)
    audit_record(organisation=campaign.organisation, actor=actor, action="arm.delete",
                 target=arm, changes={"name": arm.name})
    arm.delete()
    campaign_content_changed(campaign=campaign, actor=actor)


def _clean_message_fields(fields: dict) -> dict:
    unknown = set(fields) - set(MESSAGE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    choices = {"channel": Channel, "framing": Framing, "polarity": Polarity}
    for name, enum in choices.items():
        if name in fields and fields[name] not in enum.values:
            raise InvalidInput(f"Must be one of {', '.join(enum.values)}.", field=name)
    if "language" in fields:
        fields["language"] = _clean_codes([fields["language"]], field="language",
                                          pattern=LANGUAGE, example="en", upper=False)[0]
    if "name" in fields and not str(fields["name"]).strip():
        raise InvalidInput("A message needs a name.", field="name")
    if "body" in fields and not str(fields["body"]).strip():
        raise InvalidInput("A message needs a body.", field="body")
    return fields


def _validate_templates(message: Message) -> None:
    for problem in message_validate(message):
        part, _, detail = problem.partition(": ")
        raise InvalidInput(f"The {part} cannot be used: {detail}.", field=part)


@transaction.atomic
def message_create(*, organisation: Organisation, actor: Actor, **fields: Any) -> Message:
    _require_programme(organisation)
    cleaned = _clean_message_fields(dict(fields))
    message = Message(organisation=organisation, **cleaned)
    for required in ("name", "channel", "language", "framing", "body"):
        if not getattr(message, required):
            raise InvalidInput("This field is required.", field=required)
    _validate_templates(message)
    message.save()
    audit_record(organisation=organisation, actor=actor, action="message.create",
                 target=message, changes={"name": message.name})
    return message


@transaction.atomic
def message_update(*, message: Message, actor: Actor, **fields: Any) -> Message:
    """Edit a reusable message; campaigns using it go back to draft, or the edit is refused."""
    cleaned = _clean_message_fields(dict(fields))
    ids = set(Arm.objects.filter(messages=message).values_list("campaign_id", flat=True))
    campaigns = list(Campaign.objects.select_for_update(of=("self",)).filter(pk__in=ids)
                     .select_related("organisation").order_by("pk"))
    frozen = [c for c in campaigns if c.status not in EDITABLE]
    if frozen:
        names = ", ".join(f"'{c.name}' ({c.status})" for c in frozen)
        raise Conflict(f"This message is used by live campaigns: {names}. Make a new message "
                       "instead.", current_state=frozen[0].status)
    for name, value in cleaned.items():
        setattr(message, name, value)
    _validate_templates(message)
    message.save()
    audit_record(organisation=message.organisation, actor=actor, action="message.update",
                 target=message, changes={"fields": sorted(cleaned)})
    for campaign in campaigns:
        campaign_content_changed(campaign=campaign, actor=actor)
    return message


@transaction.atomic
def message_delete(*, message: Message, actor: Actor) -> None:
    if message.arms.exists():
        raise Conflict("This message is used by a campaign arm: remove it from the arm first.",
                       current_state="in_use")
    audit_record(organisation=message.organisation, actor=actor, action="message.delete",
                 target=message, changes={"name": message.name})
    message.delete()


def _clean_schedule(schedule: Schedule, campaign: Campaign, *, now: datetime) -> None:
    if schedule.kind not in ScheduleKind.values:
        raise InvalidInput(f"Kind must be one of {', '.join(ScheduleKind.values)}.",
                           field="kind")
    if schedule.recurrence and schedule.recurrence not in Recurrence.values:
        raise InvalidInput(f"Recurrence must be one of {', '.join(Recurrence.values)}.",
                           field="recurrence")
    if schedule.channel not in SCHEDULED_CHANNELS:
        raise InvalidInput("A schedule sends by email, SMS or webhook.", field="channel")
    if schedule.channel not in campaign.channels:
        raise InvalidInput(f"The campaign does not use the {schedule.channel} channel.",
                           field="channel")
    for problem in schedule_problems(schedule, now=now):
        field, _, detail = problem.partition(": ")
        raise InvalidInput(detail[:1].upper() + detail[1:] + ".", field=field)


@transaction.atomic
def schedule_save(*, campaign: Campaign, actor: Actor, schedule: Schedule | None = None,
                  now: datetime | None = None, **fields: Any) -> Schedule:
    """Create (schedule=None) or update a schedule; past times and empty windows refused."""
    campaign = _campaign_for_update(campaign)
    require_editable(campaign)
    unknown = set(fields) - set(SCHEDULE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    schedule = schedule or Schedule(campaign=campaign)
    created = schedule.pk is None
    for name, value in fields.items():
        setattr(schedule, name, value)
    schedule.campaign = campaign
    _clean_schedule(schedule, campaign, now=now or timezone.now())
    schedule.save()
    audit_record(organisation=campaign.organisation, actor=actor,
                 action="schedule.create" if created else "schedule.update", target=schedule,
                 changes={"fields": sorted(fields)})
    campaign_content_changed(campaign=campaign, actor=actor)
    return schedule


@transaction.atomic
def schedule_delete(*, schedule: Schedule, actor: Actor) -> None:
    campaign = _campaign_for_update(schedule.campaign)
    require_editable(campaign)
    audit_record(organisation=campaign.organisation, actor=actor, action="schedule.delete",
                 target=schedule)
    schedule.delete()
    campaign_content_changed(campaign=campaign, actor=actor)
