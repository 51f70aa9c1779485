"""The one place where delivery calls the campaigns and segments apps.

Those apps were built in parallel with this one. Each function here calls the owning app's
function when it exists (looked up at call time, so nothing here changes when it lands) and
otherwise falls back to a minimal implementation on the contract models. When every owner
function has landed, the fallbacks can be deleted; the call sites stay as they are.
"""

from __future__ import annotations

import bisect
import contextlib
import hmac
import importlib
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.pseudonyms import Pseudonym

logger = logging.getLogger(__name__)

# Campaign states in which due steps fan out and queued deliveries are sent.
# Only running campaigns send: campaigns.services starts a scheduled campaign when its first
# flight begins, and pausing or cancelling one stops its sends at the next claim.
ACTIVE_CAMPAIGN_STATUSES = ("running",)


def _owner(path: str) -> Callable[..., Any] | None:
    module_name, _, name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return getattr(module, name, None)


# --- campaigns ---------------------------------------------------------------------------------

def assign_arm(*, campaign: Any, subject: Pseudonym, at: datetime) -> Any:
    from campaigns.assignment import assign_arm as owner

    return owner(campaign=campaign, subject=subject, at=at)


def arm_assigner(*, campaign: Any, at: datetime) -> Callable[[Pseudonym], Any]:
    """`assign_arm` for a whole audience: the same answers (tests/delivery proves it on
    thousands of subjects), with the per-call work (sorting arms, weight sums, the daily
    rotation) done once instead of a million times."""
    from campaigns import assignment

    if campaign.design == "time_rotated":
        todays = assignment.rotated_arm(campaign=campaign, at=at)
        return lambda subject: (todays if assignment.in_namespace_share(
            campaign=campaign, subject=subject) else None)
    arms = assignment.ordered_arms(campaign)
    key = assignment.assignment_key()
    prefix = f"{campaign.assignment_seed}:".encode()
    live = [(arm, Decimal(arm.weight)) for arm in arms if Decimal(arm.weight) > 0]
    total = sum((weight for _, weight in live), Decimal(0))
    bounds: list[Decimal] = []
    for _, weight in live:
        bounds.append((bounds[-1] if bounds else Decimal(0)) + weight)
    namespaced = bool(campaign.assignment_namespace)

    def assign(subject: Pseudonym) -> Any:
        if namespaced and not assignment.in_namespace_share(campaign=campaign,
                                                            subject=subject):
            return None
        if not live:
            return None
        # Same digest and same Decimal arithmetic as assignment.unit_interval / arm_for_unit.
        digest = hmac.digest(key, prefix + subject.value.encode(), "sha256")
        target = Decimal(int.from_bytes(digest[:8], "big") / 2**64) * total
        index = bisect.bisect_right(bounds, target)
        return live[index][0] if index < len(live) else live[0][0]

    return assign


def render(*, message: Any, context: Any) -> Any:
    from campaigns.rendering import render_message

    return render_message(message=message, context=context)


def render_context(*, campaign: Any, country: str, language: str, stage: str | None,
                   opt_out_url: str | None, at: datetime) -> Any:
    from campaigns.rendering import build_render_context

    signer = _owner("interventions.links.help_link_signer")
    return build_render_context(campaign=campaign, country=country, language=language,
                                stage=stage, link_signer=signer, opt_out_url=opt_out_url, at=at)


def personalise_links(text: str, exposure_id: Any) -> str:
    """Re-sign the batch render's placeholder help links for one person's exposure."""
    from interventions.links import personalise_help_links

    return personalise_help_links(text, exposure_id=exposure_id)


def campaign_pause(*, campaign: Any, reason: str) -> bool:
    """Pause a running campaign on the system's behalf (auto-pause); False if not running."""
    from organisations.services import Actor, audit_record

    owner = _owner("campaigns.lifecycle.campaign_pause")
    if owner is None:
        return _set_status(campaign, frm=ACTIVE_CAMPAIGN_STATUSES, to="paused", reason=reason)
    from core.errors import Conflict

    with transaction.atomic():
        try:
            owner(campaign=campaign, actor=Actor.system())
        except Conflict:
            return False
        audit_record(organisation=campaign.organisation, actor=Actor.system(),
                     action="delivery.auto_pause", target=campaign, changes={"reason": reason})
    return True


def campaign_pause_by(*, campaign: Any, actor: Any) -> None:
    """A manager pressed Pause (raises Conflict when the campaign cannot pause)."""
    owner = _owner("campaigns.lifecycle.campaign_pause")
    if owner is not None:
        owner(campaign=campaign, actor=actor)
        return
    _set_status(campaign, frm=ACTIVE_CAMPAIGN_STATUSES, to="paused", reason="paused",
                actor=actor)


def campaign_resume(*, campaign: Any, actor: Any) -> None:
    """A manager pressed Resume (raises Conflict / InvalidInput when it cannot resume)."""
    owner = _owner("campaigns.lifecycle.campaign_resume")
    if owner is not None:
        owner(campaign=campaign, actor=actor)
        return
    _set_status(campaign, frm=("paused",), to="running", reason="resumed", actor=actor)


@transaction.atomic
def _set_status(campaign: Any, *, frm: Iterable[str], to: str, reason: str,
                actor: Any = None) -> bool:
    from campaigns.models import Campaign
    from organisations.services import Actor, audit_record

    changed = Campaign.objects.filter(pk=campaign.pk, status__in=list(frm)).update(
        status=to, status_changed_at=timezone.now())
    if changed:
        campaign.status = to
        audit_record(organisation=campaign.organisation, actor=actor or Actor.system(),
                     action=f"campaign.{to}", target=campaign, changes={"reason": reason})
    return bool(changed)


def schedule_occurrence_key(schedule: Any, occurrence: datetime) -> str:
    """A stable key of the occurrence being fanned out (the claimed next_fire_at)."""
    owner = _owner("campaigns.schedules.schedule_due_occurrence_key")
    if owner is not None:
        return str(owner(schedule, occurrence))
    if schedule.kind == "one_off":
        return f"schedule:{schedule.pk}:once"
    return f"schedule:{schedule.pk}:{occurrence.astimezone(ZoneInfo('UTC')):%Y-%m-%dT%H:%M}"


def schedule_mark_fired(*, schedule: Any, occurrence: datetime) -> datetime | None:
    """Advance next_fire_at past the occurrence just fanned out (None: the step is spent)."""
    owner = _owner("campaigns.lifecycle.schedule_mark_fired")
    if owner is not None:
        return owner(schedule=schedule, occurrence=occurrence)
    following = None
    if schedule.kind == "recurring":
        step = {"daily": timedelta(days=1), "weekly": timedelta(weeks=1)}.get(
            schedule.recurrence, timedelta(days=30))
        following = occurrence + step
    elif schedule.kind == "relative":
        following = occurrence + timedelta(days=1)
    type(schedule).objects.filter(pk=schedule.pk).update(next_fire_at=following)
    schedule.next_fire_at = following
    return following


def relative_target_date(schedule: Any, occurrence: datetime) -> Any:
    """For a relative step: the attribute date that is due at this occurrence."""
    owner = _owner("campaigns.schedules.schedule_relative_target_date")
    if owner is not None:
        return owner(schedule, occurrence)
    return (occurrence - timedelta(days=schedule.offset_days)).date()


def window_allows(schedule: Any, local_dt: datetime) -> bool:
    owner = _owner("campaigns.schedules.schedule_window_allows")
    if owner is not None:
        return bool(owner(schedule, local_dt))
    weekdays = schedule.window_weekdays or []
    if weekdays and local_dt.isoweekday() not in weekdays:
        return False
    return _in_daily_window(schedule.window_start, schedule.window_end, local_dt.time())


def next_window_start(schedule: Any, local_dt: datetime) -> datetime:
    owner = _owner("campaigns.schedules.schedule_next_window_start")
    if owner is not None:
        return owner(schedule, local_dt)
    start = schedule.window_start or time(0, 0)
    candidate = local_dt.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
    for _ in range(15):
        if candidate > local_dt and window_allows(schedule, candidate):
            return candidate
        candidate = _same_wall_time_next_day(candidate)
    return local_dt + timedelta(days=1)


def _same_wall_time_next_day(moment: datetime) -> datetime:
    # Wall-clock arithmetic: 09:00 stays 09:00 across a daylight-saving change.
    return (moment.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=moment.tzinfo)


def _in_daily_window(start: time | None, end: time | None, now: time) -> bool:
    if start is None and end is None:
        return True
    start = start or time(0, 0)
    end = end or time(23, 59, 59, 999999)
    if start <= end:
        return start <= now < end
    return now >= start or now < end  # a window across midnight, e.g. 20:00-02:00


# --- segments ----------------------------------------------------------------------------------

def segment_audience(*, segment: Any, channel: str, now: datetime) -> QuerySet:
    """Active, consented, not suppressed recipients of a segment who can be reached on channel."""
    members = _owner("segments.selectors.segment_members")
    if channel == "webhook" and members is not None:
        # A webhook goes to a partner's system about the person, not to a contact of theirs.
        return members(segment=segment, now=now)
    owner = _owner("segments.selectors.segment_audience")
    if owner is not None:
        return owner(segment=segment, channel=channel, now=now)
    from segments.models import Recipient
    from segments.targeting import RECIPIENT_FIELD_MAP, rule_parse, rule_queryset

    base = Recipient.objects.filter(organisation_id=segment.organisation_id, status="active")
    rule = rule_parse(segment.rule, organisation=segment.organisation)
    return rule_queryset(base).filter(rule.to_q(now=now, field_map=RECIPIENT_FIELD_MAP))


def contacts_for(*, recipients: list[Any], channel: str) -> dict[int, str | None]:
    """Contact addresses for a batch of recipients (decrypted in memory only, never logged)."""
    from segments.selectors import contacts_for as segment_contacts_for

    return segment_contacts_for(recipients=recipients, channel=channel)


def suppressed_recipients(*, organisation_id: int, channel: str,
                          recipient_ids: list[int]) -> set[int]:
    """Which of these recipients were suppressed on the channel after the audience froze."""
    owner = _owner("segments.selectors.suppressed_recipient_ids")
    if owner is not None:
        return set(owner(organisation_id=organisation_id, channel=channel,
                         recipient_ids=recipient_ids))
    from segments.models import ContactPoint, Suppression

    points = ContactPoint.objects.filter(recipient__in=recipient_ids, channel=channel)
    index_of = dict(points.values_list("blind_index", "recipient_id"))
    blocked = Suppression.objects.filter(organisation_id=organisation_id, channel=channel,
                                         blind_index__in=list(index_of)).values_list(
        "blind_index", flat=True)
    return {index_of[index] for index in blocked}


def suppression_add(*, recipient: Any, channel: str, reason: str, note: str) -> None:
    """Never send on this channel to this recipient's contact again (bounce, complaint)."""
    if channel not in ("email", "sms"):
        return  # webhooks go to a partner system, not to a person's address
    owner = _owner("segments.services.suppression_add")
    if owner is not None:
        from core.errors import InvalidInput
        from organisations.services import Actor

        # InvalidInput: the contact point was removed meanwhile, so there is nothing to suppress.
        with contextlib.suppress(InvalidInput):
            owner(organisation=recipient.organisation, channel=channel, reason=reason,
                  actor=Actor.system(), recipient=recipient, note=note[:500])
        return
    from segments.models import ContactPoint, Suppression

    point = ContactPoint.objects.filter(recipient=recipient, channel=channel).first()
    if point is None:
        return
    Suppression.objects.get_or_create(
        organisation_id=recipient.organisation_id, channel=channel,
        blind_index=point.blind_index,
        defaults={"recipient": recipient, "reason": reason, "note": note[:500]})


def opt_out_url(*, recipient: Any, channel: str, campaign: Any) -> str:
    if channel not in ("email", "sms"):
        return ""
    owner = _owner("segments.optout.opt_out_url")
    return str(owner(recipient=recipient, channel=channel)) if owner is not None else ""


class OptOutLinks:
    """`opt_out_url` for a batch. The segments app builds each link from a signed token and a
    reversed URL; reversing costs more than signing, so the first link of a channel is built
    by the owner and the others reuse its text around the token (checked to hold the token
    exactly once; otherwise every link is built by the owner)."""

    def __init__(self) -> None:
        self.token = _owner("segments.optout.opt_out_token")
        self.frames: dict[str, tuple[str, str] | None] = {}

    def url(self, *, recipient: Any, channel: str, campaign: Any) -> str:
        if channel not in ("email", "sms") or self.token is None:
            return opt_out_url(recipient=recipient, channel=channel, campaign=campaign)
        token = str(self.token(recipient=recipient, channel=channel))
        if channel not in self.frames:
            url = opt_out_url(recipient=recipient, channel=channel, campaign=campaign)
            before, found, after = url.partition(token)
            self.frames[channel] = (before, after) if found and token not in after else None
            return url
        frame = self.frames[channel]
        if frame is None:
            return opt_out_url(recipient=recipient, channel=channel, campaign=campaign)
        return f"{frame[0]}{token}{frame[1]}"


def exposures_record_many(records: list[dict]) -> list[Any]:
    """Exposures for a flush of sends, in one statement, through the evaluation app: their ids.
    `records` hold `evaluation.services.exposure_record`'s keyword arguments."""
    from evaluation.services import exposures_record_many as owner

    return owner(records)


def frequency_capped(*, campaign: Any, now: datetime) -> set[tuple[str, str]]:
    """(key id, pseudonym) of everyone who already had the campaign's cap of exposures."""
    from django.db.models import Count

    from evaluation.models import Exposure

    if campaign.frequency_cap_count == 0 or campaign.frequency_cap_days == 0:
        return set()  # no cap configured
    since = now - timedelta(days=campaign.frequency_cap_days)
    rows = (Exposure.objects.filter(organisation_id=campaign.organisation_id,
                                    occurred_at__gte=since, is_holdout=False)
            .values("subject_key_id", "subject_pseudonym")
            .annotate(n=Count("id")).filter(n__gte=max(campaign.frequency_cap_count, 1)))
    return {(row["subject_key_id"], row["subject_pseudonym"]) for row in rows}
