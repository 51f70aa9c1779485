"""Reads for segments and recipients, always scoped to an organisation.

The delivery engine builds on these:
- `segment_audience(segment=, channel=, now=)`: who a scheduled send may go to;
- `contacts_for(recipients=, channel=)`: the decrypted addresses of a batch, for the sender only;
- `suppressed_recipient_ids(organisation_id=, channel=, recipient_ids=)`: the last check before
  sending (suppressions added after the audience froze).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404
from django.utils import timezone

from core.crypto import DecryptionError, blind_index
from core.disclosure import DisclosedCell
from core.envelope import data_key_unwrap, data_keys_unwrap, unseal
from core.pseudonyms import pseudonym_candidates
from organisations.models import Organisation
from segments.envelope import (
    contact_context,
    contact_purpose,
    data_key_context,
    reference_purpose,
)
from segments.importing import contact_normalise
from segments.models import (
    ContactPoint,
    CustomAttribute,
    Recipient,
    RecipientStatus,
    Segment,
    SegmentStatus,
    Suppression,
)
from segments.previews import disclosed_preview_count
from segments.rules import Rule
from segments.targeting import RECIPIENT_FIELD_MAP, rule_parse, rule_queryset

PREVIEW_SAMPLES = 5
SAMPLE_PSEUDONYM_CHARS = 12


# ---- segments ---------------------------------------------------------------------------------


def segment_list(*, organisation: Organisation) -> QuerySet[Segment]:
    return Segment.objects.filter(organisation=organisation)


def segment_get(*, organisation: Organisation, pk: Any) -> Segment:
    """The organisation's segment; anyone else's (or none) is a 404."""
    return _get_or_404(segment_list(organisation=organisation), pk)


def segment_rule(segment: Segment) -> Rule:
    """The segment's parsed rule (raises RuleError if the attributes changed under it)."""
    return rule_parse(segment.rule, organisation=segment.organisation)


def segment_members(*, segment: Segment, now: datetime,
                    rule: Rule | None = None) -> QuerySet[Recipient]:
    """Active recipients of the organisation whose stored profile matches the rule."""
    if segment.status != SegmentStatus.READY and rule is None:
        return Recipient.objects.none()
    rule = rule or segment_rule(segment)
    queryset = rule_queryset(Recipient.objects.filter(organisation=segment.organisation,
                                                      status=RecipientStatus.ACTIVE))
    return queryset.filter(rule.to_q(now=now, field_map=RECIPIENT_FIELD_MAP))


def segment_audience(*, segment: Segment, channel: str, now: datetime) -> QuerySet[Recipient]:
    """Who a send on `channel` may go to: active members with a consented contact point on
    that channel that is not suppressed. One query; iterate it in chunks."""
    reachable = ContactPoint.objects.filter(
        recipient=OuterRef("pk"), channel=channel, consented_at__isnull=False,
    ).exclude(consent_basis="").exclude(
        Exists(Suppression.objects.filter(organisation=segment.organisation, channel=channel,
                                          blind_index=OuterRef("blind_index"))))
    return segment_members(segment=segment, now=now).filter(Exists(reachable))


def segment_count(*, segment: Segment, now: datetime, rule: Rule | None = None) -> int:
    """The exact number of members. Internal: show it only through `rule_preview`."""
    return segment_members(segment=segment, now=now, rule=rule).count()


@dataclass(frozen=True)
class SegmentPreview:
    count: DisclosedCell
    samples: list[str]


def rule_preview(*, organisation: Organisation, rule: Rule, now: datetime) -> SegmentPreview:
    """Count and a few sample pseudonyms of the stored recipients a rule selects. The single
    place a segment count leaves the system: disclosure control, and refused when the set
    differs from a recently previewed one by a few people (``segments.previews``)."""
    members = rule_queryset(Recipient.objects.filter(organisation=organisation,
                                                     status=RecipientStatus.ACTIVE))
    members = members.filter(rule.to_q(now=now, field_map=RECIPIENT_FIELD_MAP))
    count = disclosed_preview_count(organisation_id=organisation.pk,
                                    members=list(members.values_list("pk", flat=True)))
    samples: list[str] = []
    if not count.suppressed:
        # Samples of a suppressed count would reveal how small it is.
        pseudonyms = members.order_by("pk").values_list("reference_pseudonym", flat=True)
        samples = [value[:SAMPLE_PSEUDONYM_CHARS] for value in pseudonyms[:PREVIEW_SAMPLES]]
    return SegmentPreview(count=count, samples=samples)


def segment_preview(*, segment: Segment, now: datetime | None = None) -> SegmentPreview:
    rule = segment_rule(segment)
    return rule_preview(organisation=segment.organisation, rule=rule, now=now or timezone.now())


# ---- attributes -------------------------------------------------------------------------------


def custom_attribute_list(*, organisation: Organisation) -> QuerySet[CustomAttribute]:
    return CustomAttribute.objects.filter(organisation=organisation)


def custom_attribute_get(*, organisation: Organisation, pk: Any) -> CustomAttribute:
    return _get_or_404(custom_attribute_list(organisation=organisation), pk)




# ---- recipients -------------------------------------------------------------------------------


def recipient_list(*, organisation: Organisation) -> QuerySet[Recipient]:
    return Recipient.objects.filter(organisation=organisation).order_by("pk")


def recipient_get(*, organisation: Organisation, pk: Any) -> Recipient:
    return _get_or_404(recipient_list(organisation=organisation), pk)


def recipient_find(*, organisation: Organisation, reference: str) -> Recipient | None:
    """The recipient with this partner reference, under any pseudonym key still held."""
    candidates = pseudonym_candidates(reference.strip(),
                                      purpose=reference_purpose(organisation.pk))
    rows = {
        (r.reference_key_id, r.reference_pseudonym): r
        for r in recipient_list(organisation=organisation).filter(
            reference_pseudonym__in=[c.value for c in candidates])
    }
    for candidate in candidates:
        if (candidate.key_id, candidate.value) in rows:
            return rows[(candidate.key_id, candidate.value)]
    return None


def contact_for(*, recipient: Recipient, channel: str) -> str | None:
    """The recipient's decrypted contact value on `channel`, or None (none held, or erased).

    For the sender only, at the moment of sending: never log, store or display the result.
    """
    point = recipient.contact_points.filter(channel=channel).first()
    if point is None or not recipient.data_key_wrapped:
        return None
    try:
        data_key = data_key_unwrap(recipient.data_key_wrapped,
                                   context=data_key_context(recipient.organisation_id))
        return unseal(point.value_sealed, data_key=data_key, context=contact_context(channel))
    except DecryptionError:
        return None


def contacts_for(*, recipients: list[Recipient], channel: str) -> dict[int, str | None]:
    """`contact_for` for a batch of recipients: recipient id -> value, or None.

    One query for the contact points and one key read per organisation, for the sender only.
    """
    points = dict(ContactPoint.objects.filter(recipient__in=[r.pk for r in recipients],
                                              channel=channel)
                  .values_list("recipient_id", "value_sealed"))
    found: dict[int, str | None] = {recipient.pk: None for recipient in recipients}
    context = contact_context(channel)
    for organisation_id in {recipient.organisation_id for recipient in recipients}:
        held = [r for r in recipients if r.organisation_id == organisation_id and r.pk in points]
        keys = data_keys_unwrap([r.data_key_wrapped for r in held],
                                context=data_key_context(organisation_id))
        for recipient, data_key in zip(held, keys, strict=True):
            if data_key is None:
                continue  # erased (crypto-shredded) or its field key destroyed
            try:
                found[recipient.pk] = unseal(points[recipient.pk], data_key=data_key,
                                             context=context)
            except DecryptionError:
                continue
    return found


def contact_masked(value: str, channel: str) -> str:
    """A recognisable but unreadable form: j…@example.org, +44…23."""
    if channel == "email" and "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}…@{domain}"
    return f"{value[:3]}…{value[-2:]}"


def recipient_export(*, recipient: Recipient) -> dict[str, Any]:
    """Everything held about a recipient (subject access). Contains decrypted contact details."""
    contacts = []
    for point in recipient.contact_points.order_by("channel"):
        contacts.append({
            "channel": point.channel,
            "value": contact_for(recipient=recipient, channel=point.channel),
            "consent_basis": point.consent_basis,
            "consent_source": point.consent_source,
            "consented_at": point.consented_at.isoformat(),
            "verified": point.verified,
        })
    suppressions = Suppression.objects.filter(
        organisation_id=recipient.organisation_id,
        blind_index__in=recipient.contact_points.values("blind_index"),
    ) | Suppression.objects.filter(recipient=recipient)
    return {
        "id": recipient.pk,
        "reference_pseudonym": recipient.reference_pseudonym,
        "reference_key_id": recipient.reference_key_id,
        "stage": recipient.stage, "country": recipient.country, "language": recipient.language,
        "time_zone": recipient.time_zone, "age": recipient.age,
        "attributes": recipient.attributes, "status": recipient.status,
        "created_at": recipient.created_at.isoformat(),
        "updated_at": recipient.updated_at.isoformat(),
        "erased_at": recipient.erased_at.isoformat() if recipient.erased_at else None,
        "contacts": contacts,
        "suppressions": [
            {"channel": s.channel, "reason": s.reason, "created_at": s.created_at.isoformat()}
            for s in suppressions.distinct().order_by("created_at")
        ],
    }


# ---- suppressions -----------------------------------------------------------------------------


def suppression_list(*, organisation: Organisation) -> QuerySet[Suppression]:
    return Suppression.objects.filter(organisation=organisation)


def suppression_get(*, organisation: Organisation, pk: Any) -> Suppression:
    return _get_or_404(suppression_list(organisation=organisation), pk)


def is_suppressed(*, organisation: Organisation, channel: str, contact_blind_index: str) -> bool:
    return Suppression.objects.filter(organisation=organisation, channel=channel,
                                      blind_index=contact_blind_index).exists()


def recipient_suppressed(*, recipient: Recipient, channel: str) -> bool:
    """Is the recipient's contact point on `channel` suppressed (or missing)?"""
    point = recipient.contact_points.filter(channel=channel).first()
    if point is None:
        return True
    return is_suppressed(organisation=recipient.organisation, channel=channel,
                         contact_blind_index=point.blind_index)


def suppressed_recipient_ids(*, organisation_id: int, channel: str,
                             recipient_ids: list[int]) -> set[int]:
    """Which of these recipients have a suppressed contact on the channel (one query each for
    their contact points and the suppressions)."""
    index_of = dict(ContactPoint.objects.filter(recipient__in=recipient_ids, channel=channel)
                    .values_list("blind_index", "recipient_id"))
    blocked = Suppression.objects.filter(organisation_id=organisation_id, channel=channel,
                                         blind_index__in=list(index_of))
    return {index_of[index] for index in blocked.values_list("blind_index", flat=True)}


def contact_blind_index(*, organisation: Organisation, channel: str, value: str) -> str | None:
    """The blind index a contact value has in this organisation (None if the value is invalid)."""
    normalised = contact_normalise(channel, value)
    if normalised is None:
        return None
    return blind_index(normalised, purpose=contact_purpose(channel, organisation.pk))


def _get_or_404(queryset: QuerySet, pk: Any) -> Any:
    try:
        return queryset.get(pk=int(pk))
    except (ValueError, TypeError, queryset.model.DoesNotExist):
        raise Http404 from None
