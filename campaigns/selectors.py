"""Reads for campaigns, always from the caller's point of view.

A programme organisation sees its own campaigns and messages; a partner sees (read-only) the
campaigns it is enrolled in; anything else does not exist for the caller (404).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet

from campaigns.models import Arm, Campaign, CampaignStatus, Flight, Message, Schedule
from core.locales import language_chain
from organisations.models import Organisation


def campaigns_enrolling(organisation: Organisation | int) -> QuerySet:
    """Ids of the campaigns `organisation` is enrolled in as a partner (a subquery)."""
    return Campaign.partners.through.objects.filter(organisation=organisation).values(
        "campaign_id")


def campaign_ids_visible_to(organisation: Organisation | int) -> QuerySet[Campaign]:
    """THE visibility rule, as a subquery of ids: the campaigns `organisation` may see are
    its own and those it is enrolled in as a partner. Every read of "campaigns this
    organisation may see" (API, admin reports, evaluation, outcome reports) goes through here.

    A subquery instead of a join: no duplicate rows, so no DISTINCT, and other models filter
    with `campaign__in=campaign_ids_visible_to(organisation)`.
    """
    return Campaign.objects.filter(
        Q(organisation=organisation) | Q(pk__in=campaigns_enrolling(organisation))).values("pk")


def campaigns_visible_to(organisation: Organisation) -> QuerySet[Campaign]:
    """The campaigns `organisation` may see (see campaign_ids_visible_to)."""
    return (Campaign.objects.filter(pk__in=campaign_ids_visible_to(organisation))
            .select_related("organisation"))


def campaign_get(*, organisation: Organisation, pk: int) -> Campaign | None:
    return campaigns_visible_to(organisation).filter(pk=pk).first()


def campaign_is_owned_by(campaign: Campaign, organisation: Organisation) -> bool:
    return campaign.organisation_id == organisation.pk


def messages_visible_to(organisation: Organisation) -> QuerySet[Message]:
    return Message.objects.filter(organisation=organisation)


def message_get(*, organisation: Organisation, pk: int) -> Message | None:
    return messages_visible_to(organisation).filter(pk=pk).first()


def arms_of(campaign: Campaign) -> QuerySet[Arm]:
    return campaign.arms.prefetch_related("messages").order_by("pk")


def schedules_of(campaign: Campaign) -> QuerySet[Schedule]:
    return campaign.schedules.order_by("pk")


def in_flight(flights: Iterable[tuple[datetime, datetime | None]], at: datetime) -> bool:
    """The one "in flight" rule: `at` is inside a (starts_at, ends_at) span, from its start
    (inclusive) to its end (exclusive; no end: open). `_in_flight_q` is the same rule in SQL."""
    return any(starts <= at and (ends is None or at < ends) for starts, ends in flights)


def flights_ended(flights: Iterable[tuple[datetime, datetime | None]], at: datetime) -> bool:
    """Every span is over at `at` (each has an end, and no end is later): none is or will be
    in flight again."""
    return all(ends is not None and ends <= at for _, ends in flights)


def _in_flight_q(at: datetime) -> Q:
    return Q(flights__starts_at__lte=at) & (Q(flights__ends_at__isnull=True)
                                            | Q(flights__ends_at__gt=at))


def running_campaigns_for_partner(*, partner: Organisation, at: datetime) -> list[Campaign]:
    """Running campaigns the partner is enrolled in and in a flight at `at`, best first.

    Arms (with messages), segments and flights are prefetched: the live-interventions endpoint
    calls this on every request, so one call costs a fixed handful of queries.
    """
    ids = (Campaign.objects.filter(_in_flight_q(at), status=CampaignStatus.RUNNING,
                                   pk__in=campaigns_enrolling(partner)).values("pk"))
    return list(
        Campaign.objects.filter(pk__in=ids).select_related("organisation")
        .prefetch_related(
            Prefetch("arms", queryset=Arm.objects.order_by("pk").prefetch_related("messages")),
            "segments",
            Prefetch("flights", queryset=Flight.objects.order_by("starts_at")),
        )
        .order_by("-priority", "pk"))


def campaign_in_flight(campaign: Campaign, at: datetime) -> bool:
    """Whether `at` falls inside one of the campaign's flights (uses prefetched flights)."""
    return in_flight(((f.starts_at, f.ends_at) for f in campaign.flights.all()), at)


def messages_for_arm(*, arm: Arm, channel: str, language_chain: Sequence[str]) -> Message | None:
    """The arm's message for the channel in the first available language of the chain.

    None for a holdout arm or when no message matches (the caller shows nothing). Uses the
    prefetched `arm.messages` when present.
    """
    candidates = [m for m in arm.messages.all() if m.channel == channel]
    by_language = {m.language.lower(): m for m in sorted(candidates, key=lambda m: -m.pk)}
    for language in language_chain:
        message = by_language.get(language.lower())
        if message is not None:
            return message
    return None


def message_in_language(*, arm: Arm, channel: str, language: str | None,
                        campaign_languages: Sequence[str]) -> Message | None:
    """The arm's message for a person speaking `language`, along the one fallback chain."""
    return messages_for_arm(arm=arm, channel=channel,
                            language_chain=language_chain(language, campaign_languages))
