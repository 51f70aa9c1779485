"""Writes for segments, custom attributes and suppressions (recipients: `segments.recipients`).

Every action is one transaction that writes its audit row in the same transaction. Audit rows
never contain a reference, a contact value or a pseudonym: only counts and field names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from core.crypto import blind_index
from core.errors import Conflict, InvalidInput
from organisations.models import Organisation
from organisations.services import Actor, audit_record
from segments.envelope import contact_purpose
from segments.importing import EMAIL_PROBLEM, PHONE_PROBLEM, contact_normalise
from segments.models import (
    AttributeType,
    ContactChannel,
    CustomAttribute,
    Recipient,
    Segment,
    SegmentStatus,
    Suppression,
    SuppressionReason,
)
from segments.rules import AttributeSpec, RuleError, validate_attribute_name
from segments.targeting import attribute_specs, rule_parse

# ---- custom attributes ------------------------------------------------------------------------


@transaction.atomic
def custom_attribute_create(*, organisation: Organisation, name: str, type: str,
                            actor: Actor, choices: Iterable[str] = (),
                            description: str = "") -> CustomAttribute:
    choices = list(choices)
    custom_attribute_check(organisation=organisation, name=name, type=type, choices=choices)
    attribute = CustomAttribute.objects.create(
        organisation=organisation, name=name, type=type, choices=choices,
        description=description)
    audit_record(organisation=organisation, actor=actor, action="custom_attribute.create",
                 target=attribute, changes={"name": name, "type": type, "choices": choices})
    segments_revalidate(organisation=organisation)
    return attribute


def custom_attribute_check(*, organisation: Organisation, name: str, type: str,
                           choices: list[str]) -> None:
    """Raise InvalidInput (naming the field) unless the attribute can be declared."""
    try:
        validate_attribute_name(name)
    except ValueError as error:
        raise InvalidInput(str(error), field="name") from None
    if type not in AttributeType.values:
        raise InvalidInput(f"type must be one of {', '.join(AttributeType.values)}",
                           field="type")
    try:
        AttributeSpec(type, tuple(choices))
    except ValueError as error:
        raise InvalidInput(str(error), field="choices") from None
    if len(set(choices)) != len(choices):
        raise InvalidInput("choices must not repeat", field="choices")
    if CustomAttribute.objects.filter(organisation=organisation, name=name).exists():
        raise InvalidInput(f"an attribute named {name!r} already exists", field="name")


@transaction.atomic
def custom_attribute_delete(*, attribute: CustomAttribute, actor: Actor) -> None:
    """Delete the declaration; segments whose rules use it become invalid (with the error)."""
    organisation = attribute.organisation
    audit_record(organisation=organisation, actor=actor, action="custom_attribute.delete",
                 target=attribute, changes={"name": attribute.name})
    attribute.delete()
    segments_revalidate(organisation=organisation)


# ---- segments ---------------------------------------------------------------------------------


def _rule_fields(text: str, *, organisation: Organisation,
                 attributes: Mapping[str, AttributeSpec] | None = None) -> list[str]:
    try:
        return list(rule_parse(text, organisation=organisation, attributes=attributes).fields)
    except RuleError as error:
        raise InvalidInput(str(error), field="rule", line=error.line,
                           column=error.column) from None


@transaction.atomic
def segment_create(*, organisation: Organisation, name: str, stage: str, rule: str,
                   actor: Actor, description: str = "") -> Segment:
    fields = _rule_fields(rule, organisation=organisation)
    _segment_name_check(organisation=organisation, name=name)
    segment = Segment.objects.create(
        organisation=organisation, name=name, stage=stage, rule=rule, description=description,
        fields=fields, status=SegmentStatus.READY, error="")
    audit_record(organisation=organisation, actor=actor, action="segment.create",
                 target=segment, changes={"name": name, "stage": stage, "rule": rule})
    return segment


SEGMENT_EDITABLE = ("name", "stage", "rule", "description")


@transaction.atomic
def segment_update(*, segment: Segment, actor: Actor, **changes: Any) -> Segment:
    unknown = set(changes) - set(SEGMENT_EDITABLE)
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(sorted(unknown))}")
    if "rule" in changes:
        segment.fields = _rule_fields(changes["rule"], organisation=segment.organisation)
        segment.status, segment.error = SegmentStatus.READY, ""
    if "name" in changes and changes["name"] != segment.name:
        _segment_name_check(organisation=segment.organisation, name=changes["name"])
    for name, value in changes.items():
        setattr(segment, name, value)
    segment.save()
    audit_record(organisation=segment.organisation, actor=actor, action="segment.update",
                 target=segment, changes=changes)
    return segment


def _segment_name_check(*, organisation: Organisation, name: str) -> None:
    if Segment.objects.filter(organisation=organisation, name=name).exists():
        raise InvalidInput(f"a segment named {name!r} already exists", field="name")


@transaction.atomic
def segment_delete(*, segment: Segment, actor: Actor) -> None:
    if segment.campaigns.exists():
        raise Conflict("this segment is used by a campaign; remove it from the campaign first")
    audit_record(organisation=segment.organisation, actor=actor, action="segment.delete",
                 target=segment, changes={"name": segment.name})
    segment.delete()


def segment_status_of(segment: Segment, *,
                      attributes: Mapping[str, AttributeSpec]) -> tuple[str, str, list[str]]:
    """(status, error, fields) of a segment's rule against the current attributes."""
    try:
        rule = rule_parse(segment.rule, organisation=segment.organisation,
                          attributes=attributes)
    except RuleError as error:
        return SegmentStatus.INVALID, str(error), segment.fields
    return SegmentStatus.READY, "", list(rule.fields)


@transaction.atomic
def segments_revalidate(*, organisation: Organisation) -> int:
    """Re-check every segment after the attributes changed; returns how many changed status."""
    attributes = attribute_specs(organisation)
    changed = 0
    for segment in Segment.objects.filter(organisation=organisation).select_for_update():
        status, error, fields = segment_status_of(segment, attributes=attributes)
        if (status, error, fields) != (segment.status, segment.error, segment.fields):
            segment.status, segment.error, segment.fields = status, error, fields
            segment.save(update_fields=["status", "error", "fields", "updated_at"])
            changed += 1
    return changed


# ---- suppressions -----------------------------------------------------------------------------


@transaction.atomic
def suppression_add(*, organisation: Organisation, channel: str, reason: str, actor: Actor,
                    value: str | None = None, recipient: Recipient | None = None,
                    note: str = "") -> tuple[Suppression, bool]:
    """Suppress a contact value (or a recipient's contact) on a channel. Idempotent.

    Returns (suppression, created). An existing suppression keeps its first reason.
    """
    if channel not in ContactChannel.values:
        raise InvalidInput(f"channel must be one of {', '.join(ContactChannel.values)}",
                           field="channel")
    if reason not in SuppressionReason.values:
        raise InvalidInput(f"reason must be one of {', '.join(SuppressionReason.values)}",
                           field="reason")
    index = _suppression_index(organisation=organisation, channel=channel, value=value,
                               recipient=recipient)
    suppression, created = Suppression.objects.get_or_create(
        organisation=organisation, channel=channel, blind_index=index,
        defaults={"reason": reason, "note": note, "recipient": recipient})
    if created:
        audit_record(organisation=organisation, actor=actor, action="suppression.add",
                     target=suppression, changes={"channel": channel, "reason": reason})
    return suppression, created


def _suppression_index(*, organisation: Organisation, channel: str, value: str | None,
                       recipient: Recipient | None) -> str:
    if (value is None) == (recipient is None):
        raise InvalidInput("give either a contact value or a recipient", field="value")
    if recipient is not None:
        point = recipient.contact_points.filter(channel=channel).first()
        if point is None:
            raise InvalidInput(f"the recipient has no {channel} contact", field="recipient")
        return point.blind_index
    normalised = contact_normalise(channel, value or "")
    if normalised is None:
        problem = EMAIL_PROBLEM if channel == ContactChannel.EMAIL else PHONE_PROBLEM
        raise InvalidInput(problem, field="value")
    return blind_index(normalised, purpose=contact_purpose(channel, organisation.pk))


@transaction.atomic
def suppression_remove(*, suppression: Suppression, actor: Actor) -> None:
    audit_record(organisation=suppression.organisation, actor=actor,
                 action="suppression.remove", target=suppression,
                 changes={"channel": suppression.channel, "reason": suppression.reason})
    suppression.delete()


def opt_out_apply(*, recipient: Recipient, channel: str) -> bool:
    """The recipient clicked an opt-out link: suppress that channel. True if now suppressed."""
    if not recipient.contact_points.filter(channel=channel).exists():
        return False  # erased or never had one: nothing left to contact
    # get_or_create inside makes a repeated or concurrent click a no-op.
    suppression_add(organisation=recipient.organisation, channel=channel,
                    reason=SuppressionReason.UNSUBSCRIBED, recipient=recipient,
                    actor=Actor.system(), note="one-click opt-out link")
    return True


STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout"})


def sms_inbound(*, organisation: Organisation, sender: str, body: str) -> bool:
    """An inbound SMS: a STOP word suppresses the sender's number. True if it suppressed."""
    if body.strip().lower().replace("-", "").replace(" ", "") not in STOP_WORDS:
        return False
    normalised = contact_normalise(ContactChannel.SMS, sender)
    if normalised is None:
        raise InvalidInput("From must be an international number", field="From")
    suppression_add(organisation=organisation, channel=ContactChannel.SMS, value=normalised,
                    reason=SuppressionReason.UNSUBSCRIBED, actor=Actor.system(),
                    note="inbound SMS stop word")
    return True

