"""Writes for campaigns: authoring, the server-enforced lifecycle, and the launch gate.

Lifecycle: draft -> in_review -> approved -> scheduled -> running <-> paused -> completed, or
cancelled from any live state. Every transition goes through `_transition`: one table, one
conditional UPDATE (`status IN allowed`), so two concurrent transitions cannot both win, and
one audit row in the same transaction. An illegal transition raises Conflict (HTTP 409) with
`current_state`.

Four eyes: the approver is a reviewer or manager of the organisation and neither the author
nor the submitter. Approval stores a hash and a snapshot of the content; editing the content
of an in-review or approved campaign returns it to draft, and editing a scheduled, running or
paused campaign is refused (cancel, or complete, and start a new version).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from campaigns.models import (
    Arm,
    ArmKind,
    AssignmentDesign,
    Campaign,
    CampaignStatus,
    Flight,
    Framing,
    Message,
    Polarity,
    Recurrence,
    Schedule,
    ScheduleKind,
)
from campaigns.rendering import message_validate
from campaigns.schedules import schedule_next_fire, schedule_problems
from core.errors import Conflict, Forbidden, InvalidInput
from core.vocabulary import Channel
from organisations.models import Membership, Organisation, OrganisationKind, Partnership, Role
from organisations.services import Actor, audit_record

S = CampaignStatus


class NotAllowed(Forbidden):
    """The actor may not do this (e.g. approve their own campaign): HTTP 403."""


# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "submit": (frozenset({S.DRAFT}), S.IN_REVIEW),
    "approve": (frozenset({S.IN_REVIEW}), S.APPROVED),
    "reject": (frozenset({S.IN_REVIEW}), S.DRAFT),
    "revise": (frozenset({S.IN_REVIEW, S.APPROVED}), S.DRAFT),
    "schedule": (frozenset({S.APPROVED}), S.SCHEDULED),
    "start": (frozenset({S.SCHEDULED}), S.RUNNING),
    "pause": (frozenset({S.RUNNING}), S.PAUSED),
    "resume": (frozenset({S.PAUSED}), S.RUNNING),
    "complete": (frozenset({S.RUNNING, S.PAUSED}), S.COMPLETED),
    "cancel": (frozenset({S.DRAFT, S.IN_REVIEW, S.APPROVED, S.SCHEDULED, S.RUNNING,
                          S.PAUSED}), S.CANCELLED),
}
EDITABLE = frozenset({S.DRAFT, S.IN_REVIEW, S.APPROVED})  # the last two return to draft
REVIEW_ROLES = (Role.REVIEWER, Role.MANAGER)
CAMPAIGN_FIELDS = ("name", "objective", "priority", "channels", "countries", "languages",
                   "frequency_cap_count", "frequency_cap_days", "design", "assignment_namespace",
                   "namespace_offset", "namespace_share")
MESSAGE_FIELDS = ("name", "channel", "language", "framing", "polarity", "subject", "body")
SCHEDULE_FIELDS = ("kind", "channel", "send_at", "recurrence", "time_of_day",
                   "relative_attribute", "offset_days", "window_start", "window_end",
                   "window_weekdays")
SCHEDULED_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.WEBHOOK)
COUNTRY = re.compile(r"^[A-Z]{2}\Z")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?\Z")
MAX_WEIGHT = Decimal("999")


# --- content hash (what the reviewer approved) ----------------------------------------------

def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def message_content(message: Message) -> dict:
    return {"id": message.pk, **{f: getattr(message, f) for f in MESSAGE_FIELDS}}


def campaign_content(campaign: Campaign) -> dict:
    """Everything a reviewer signs off: settings, audience, flights, arms+messages, schedules."""
    data: dict[str, Any] = {f: getattr(campaign, f) for f in CAMPAIGN_FIELDS}
    data["namespace_offset"] = str(campaign.namespace_offset)
    data["namespace_share"] = str(campaign.namespace_share)
    data["segments"] = sorted(campaign.segments.values_list("pk", flat=True))
    data["partners"] = sorted(campaign.partners.values_list("pk", flat=True))
    data["flights"] = [[_iso(f.starts_at), _iso(f.ends_at)]
                       for f in campaign.flights.order_by("starts_at", "pk")]
    data["arms"] = [
        {"name": arm.name, "kind": arm.kind, "weight": str(arm.weight),
         "messages": [message_content(m) for m in arm.messages.order_by("pk")]}
        for arm in campaign.arms.order_by("pk")
    ]
    data["schedules"] = [
        {f: (_iso(v) if hasattr(v, "isoformat") else v)
         for f, v in ((f, getattr(s, f)) for f in SCHEDULE_FIELDS)}
        for s in campaign.schedules.order_by("pk")
    ]
    return data


def campaign_content_hash(campaign: Campaign) -> str:
    encoded = json.dumps(campaign_content(campaign), sort_keys=True, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def campaign_content_intact(campaign: Campaign) -> bool:
    """True when the content is still what the reviewer approved."""
    return bool(campaign.content_hash) and campaign.content_hash == campaign_content_hash(campaign)


# --- transitions ----------------------------------------------------------------------------

def _transition(*, campaign: Campaign, action: str, actor: Actor,
                updates: dict | None = None, changes: dict | None = None) -> Campaign:
    allowed, target = TRANSITIONS[action]
    now = timezone.now()
    previous = campaign.status
    fields = {"status": target, "status_changed_at": now, "updated_at": now, **(updates or {})}
    updated = Campaign.objects.filter(pk=campaign.pk, status__in=allowed).update(**fields)
    if not updated:
        current = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).first()
        raise Conflict(f"cannot {action} a campaign that is {current}", current_state=current)
    for name, value in fields.items():
        setattr(campaign, name, value)
    audit_record(organisation=campaign.organisation, actor=actor, action=f"campaign.{action}",
                 target=campaign,
                 changes={"from": previous, "to": target, **(changes or {})})
    return campaign


def _require_state(campaign: Campaign, action: str) -> None:
    """Fail early (before the launch gate's queries) when the transition cannot apply."""
    allowed, _ = TRANSITIONS[action]
    if campaign.status not in allowed:
        raise Conflict(f"cannot {action} a campaign that is {campaign.status}",
                       current_state=campaign.status)


def _user_of(actor: Actor) -> Any:
    user = actor.user
    return user if getattr(user, "is_authenticated", False) and user.pk else None


@transaction.atomic
def campaign_submit(*, campaign: Campaign, actor: Actor) -> Campaign:
    _require_state(campaign, "submit")
    # The submitted content's hash: a later edit (even through a path that forgot to call
    # campaign_content_changed) is detected before approval and at the launch gate.
    return _transition(campaign=campaign, action="submit", actor=actor,
                       updates={"submitted_by": _user_of(actor),
                                "content_hash": campaign_content_hash(campaign)})


def approval_refusal(*, campaign: Campaign, actor: Actor) -> str | None:
    """Why `actor` may not approve `campaign`, or None when they may (four eyes, roles)."""
    user = _user_of(actor)
    if user is None:
        return "Approval needs a signed-in reviewer (an API key cannot approve)."
    if user.pk in {campaign.created_by_id, campaign.submitted_by_id}:
        return "The author of a campaign cannot approve it: another reviewer must (four eyes)."
    is_reviewer = Membership.objects.filter(user=user, organisation=campaign.organisation,
                                            role__in=REVIEW_ROLES).exists()
    if not (is_reviewer or user.is_superuser):
        return "Only a reviewer or manager of the organisation can approve campaigns."
    return None


@transaction.atomic
def campaign_approve(*, campaign: Campaign, actor: Actor) -> Campaign:
    _require_state(campaign, "approve")
    refusal = approval_refusal(campaign=campaign, actor=actor)
    if refusal:
        raise NotAllowed(refusal)
    if not campaign_content_intact(campaign):
        raise Conflict("The content changed after it was submitted: it must be submitted "
                       "again.", current_state=campaign.status)
    content = campaign_content(campaign)
    content_hash = campaign_content_hash(campaign)
    return _transition(
        campaign=campaign, action="approve", actor=actor,
        updates={"approved_by": _user_of(actor), "approved_at": timezone.now(),
                 "content_hash": content_hash, "approved_snapshot": content},
        changes={"content_hash": content_hash})


@transaction.atomic
def campaign_reject(*, campaign: Campaign, actor: Actor, reason: str = "") -> Campaign:
    _require_state(campaign, "reject")
    if _user_of(actor) is None:
        raise NotAllowed("Rejection needs a signed-in reviewer (an API key cannot review).")
    return _transition(campaign=campaign, action="reject", actor=actor,
                       changes={"reason": reason[:2000]})


def _set_next_fires(campaign: Campaign, *, now: datetime | None) -> None:
    for schedule in campaign.schedules.all():
        schedule.next_fire_at = schedule_next_fire(schedule, now) if now else None
        schedule.save(update_fields=["next_fire_at"])


@transaction.atomic
def campaign_schedule(*, campaign: Campaign, actor: Actor, now: datetime | None = None
                      ) -> Campaign:
    """approved -> scheduled, only when the launch gate finds no problem."""
    return _gated_transition(campaign=campaign, action="schedule", actor=actor, now=now,
                             gate=launch_problems, refusal="The campaign cannot be scheduled: ")


def _gated_transition(*, campaign: Campaign, action: str, actor: Actor, now: datetime | None,
                      gate: Callable[..., list[str]], refusal: str) -> Campaign:
    """A transition that first asks `gate` for problems, then arms the schedules."""
    _require_state(campaign, action)
    now = now or timezone.now()
    problems = gate(campaign, at=now)
    if problems:
        raise InvalidInput(refusal + " ".join(problems), problems=problems)
    _transition(campaign=campaign, action=action, actor=actor)
    _set_next_fires(campaign, now=now)
    return campaign


@transaction.atomic
def campaign_start(*, campaign: Campaign, actor: Actor) -> Campaign:
    """scheduled -> running (the beat when the first flight begins, or the delivery engine).

    The evaluation plan is locked in the same transaction: what was pre-registered is what
    the campaign starts with.
    """
    from evaluation.services import plan_lock_for_campaign

    _require_state(campaign, "start")
    plan_lock_for_campaign(campaign=campaign, actor=actor)
    return _transition(campaign=campaign, action="start", actor=actor)


@transaction.atomic
def campaign_pause(*, campaign: Campaign, actor: Actor) -> Campaign:
    _transition(campaign=campaign, action="pause", actor=actor)
    _set_next_fires(campaign, now=None)
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, actor: Actor, now: datetime | None = None
                    ) -> Campaign:
    """paused -> running, re-checking the help resources (they may have gone stale)."""
    return _gated_transition(campaign=campaign, action="resume", actor=actor, now=now,
                             gate=help_resource_problems, refusal="The campaign cannot resume: ")


@transaction.atomic
def campaign_complete(*, campaign: Campaign, actor: Actor) -> Campaign:
    _transition(campaign=campaign, action="complete", actor=actor)
    _set_next_fires(campaign, now=None)
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, actor: Actor, reason: str = "") -> Campaign:
    _transition(campaign=campaign, action="cancel", actor=actor,
                changes={"reason": reason[:2000]})
    _set_next_fires(campaign, now=None)
    return campaign


def campaign_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Start scheduled campaigns whose first flight has begun; complete finished ones."""
    now = now or timezone.now()
    started = completed = 0
    for campaign in Campaign.objects.filter(status=S.SCHEDULED, flights__starts_at__lte=now
                                            ).distinct():
        try:
            campaign_start(campaign=campaign, actor=Actor.system())
            started += 1
        except Conflict:
            continue  # another worker got there first
    live = Campaign.objects.filter(status__in=[S.RUNNING, S.PAUSED]).prefetch_related("flights")
    for campaign in live:
        flights = list(campaign.flights.all())
        if flights and all(f.ends_at is not None and f.ends_at <= now for f in flights):
            try:
                campaign_complete(campaign=campaign, actor=Actor.system())
                completed += 1
            except Conflict:
                continue
    return {"started": started, "completed": completed}


# --- the launch gate ------------------------------------------------------------------------

def launch_problems(campaign: Campaign, *, at: datetime | None = None) -> list[str]:
    """Everything that stops this campaign from going live, each problem named (empty: ok)."""
    at = at or timezone.now()
    problems: list[str] = []
    if campaign.status in (S.APPROVED, S.SCHEDULED) and not campaign_content_intact(campaign):
        problems.append("The content changed after approval: submit it for review again.")
    problems += audience_problems(campaign)
    problems += arm_problems(campaign)
    problems += message_problems(campaign)
    problems += flight_problems(campaign, at=at)
    for schedule in campaign.schedules.all():
        problems += [f"Schedule {schedule.pk}: {p}." for p in schedule_problems(schedule, now=at)]
        if schedule.channel not in campaign.channels:
            problems.append(f"Schedule {schedule.pk} sends by {schedule.channel or 'no channel'}"
                            ", which the campaign does not use.")
    problems += namespace_problems(campaign)
    problems += help_resource_problems(campaign, at=at)
    return problems


def audience_problems(campaign: Campaign) -> list[str]:
    problems = []
    if not campaign.channels:
        problems.append("No channel is chosen.")
    if not campaign.countries:
        problems.append("No audience country is set, so no help resources can be chosen.")
    if not campaign.languages:
        problems.append("No audience language is set.")
    return problems


def arm_problems(campaign: Campaign) -> list[str]:
    arms = list(campaign.arms.all())
    if not arms:
        return ["No evaluation arms are defined: add at least one variant and a comparator or "
                "holdout."]
    problems = []
    showing = [a for a in arms if a.kind != ArmKind.HOLDOUT and a.weight > 0]
    if not showing:
        problems.append("No arm shows a message: add a variant or comparator with a weight.")
    if len(arms) < 2 and campaign.design == AssignmentDesign.PER_PERSON:
        problems.append(f"Only one arm ('{arms[0].name}') is defined: evaluation needs a "
                        "comparator, a second variant or a holdout.")
    return problems


def message_problems(campaign: Campaign) -> list[str]:
    """Every showing arm needs a message in each channel and each audience language."""
    problems = []
    for arm in campaign.arms.prefetch_related("messages"):
        if arm.kind == ArmKind.HOLDOUT:
            continue
        messages = list(arm.messages.all())
        have = {(m.channel, m.language) for m in messages}
        for channel in campaign.channels:
            for language in campaign.languages:
                if (channel, language) not in have:
                    problems.append(f"Arm '{arm.name}' has no {channel} message in "
                                    f"'{language}', a language its audience needs.")
        for message in messages:
            problems += [f"Message '{message.name}' {p}." for p in message_validate(message)]
    return problems


def flight_problems(campaign: Campaign, *, at: datetime) -> list[str]:
    flights = list(campaign.flights.all())
    if not flights:
        return ["No flight (active date range) is defined."]
    if all(f.ends_at is not None and f.ends_at <= at for f in flights):
        return ["Every flight has already ended."]
    return []


def namespace_problems(campaign: Campaign) -> list[str]:
    try:
        _validate_namespace(campaign)
    except InvalidInput as error:
        return [error.message]
    return []


def help_resource_problems(campaign: Campaign, *, at: datetime) -> list[str]:
    """Unconfirmed or stale help resources the campaign would signpost, and gaps."""
    from directory.selectors import help_resources_for

    stages = sorted({s.stage for s in campaign.segments.all() if s.stage}) or [None]
    problems: dict[str, None] = {}  # ordered and de-duplicated
    for country in campaign.countries:
        for language in campaign.languages:
            for stage in stages:
                resources = help_resources_for(
                    organisation=campaign.organisation, country=country, language=language,
                    audience=stage, at=at, include_unconfirmed=True)
                for resource in resources:
                    problem = _resource_problem(resource)
                    if problem:
                        problems[problem] = None
                if not any(_resource_problem(r) is None for r in resources):
                    who = f" for the {stage} audience" if stage else ""
                    problems[f"No confirmed help resource in {country} in '{language}'{who}: "
                             "the campaign would signpost nothing."] = None
    return list(problems)


def _resource_problem(resource: Any) -> str | None:
    verification = getattr(resource, "verification", "confirmed")
    if verification == "confirmed":
        return None
    label = f"Help resource '{resource.name}' ({resource.slug})"
    if verification == "stale":
        confirmed = getattr(resource, "confirmed_at", None)
        when = f" (last confirmed {confirmed:%Y-%m-%d})" if confirmed else ""
        return f"{label} is stale{when}: re-confirm its contact details in the directory."
    return f"{label} is unconfirmed: confirm its contact details in the directory."


# --- authoring: campaigns -------------------------------------------------------------------

def _require_programme(organisation: Organisation) -> None:
    if organisation.kind != OrganisationKind.PROGRAMME_OWNER:
        raise NotAllowed("Only programme organisations author campaigns.")


def _require_editable(campaign: Campaign) -> None:
    if campaign.status not in EDITABLE:
        raise Conflict(
            f"cannot edit a campaign that is {campaign.status}: its approved content is frozen "
            "(cancel it and create a new version)", current_state=campaign.status)


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


def _validate_namespace(campaign: Campaign) -> None:
    start, share = campaign.namespace_offset, campaign.namespace_share
    if share <= 0:
        raise InvalidInput("The namespace share must be above 0.", field="namespace_share")
    if start + share > 1:
        raise InvalidInput(
            f"The namespace slice [{start}, {start + share}) goes past 1: lower the offset or "
            "the share.", field="namespace_share")
    if not campaign.assignment_namespace:
        return
    others = (Campaign.objects.filter(organisation=campaign.organisation,
                                      assignment_namespace=campaign.assignment_namespace)
              .exclude(pk=campaign.pk).exclude(status__in=[S.CANCELLED, S.COMPLETED]))
    for other in others:
        if start < other.namespace_offset + other.namespace_share \
                and other.namespace_offset < start + share:
            raise InvalidInput(
                f"The namespace slice overlaps campaign '{other.name}' "
                f"([{other.namespace_offset}, {other.namespace_offset + other.namespace_share}))"
                ": people could be in both.", field="namespace_offset")


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
            raise InvalidInput(f"'{partner.name}' is not a partner of this programme.",
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
    campaign = Campaign(organisation=organisation, created_by=_user_of(actor), **cleaned)
    _validate_namespace(campaign)
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
    _require_editable(campaign)
    cleaned = _clean_campaign_fields(fields)
    for name, value in cleaned.items():
        setattr(campaign, name, value)
    _validate_namespace(campaign)
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


def campaign_content_changed(*, campaign: Campaign, actor: Actor) -> Campaign:
    """After any content edit: an in-review or approved campaign goes back to draft."""
    if campaign.status == S.DRAFT:
        return campaign
    if campaign.status in (S.IN_REVIEW, S.APPROVED):
        if campaign_content_intact(campaign):
            return campaign  # nothing the reviewer sees or saw has changed
        return _transition(campaign=campaign, action="revise", actor=actor,
                           updates={"approved_by": None, "approved_at": None,
                                    "content_hash": "", "approved_snapshot": {}},
                           changes={"reason": "content edited"})
    _require_editable(campaign)
    return campaign


def _campaign_for_update(campaign: Campaign) -> Campaign:
    # Lock the row so an edit and a transition on the same campaign are serialised.
    return Campaign.objects.select_for_update(of=("self",)).select_related("organisation").get(
        pk=campaign.pk)


# --- authoring: flights ---------------------------------------------------------------------

@transaction.atomic
def flight_create(*, campaign: Campaign, actor: Actor, starts_at: datetime,
                  ends_at: datetime | None = None) -> Flight:
    campaign = _campaign_for_update(campaign)
    _require_editable(campaign)
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidInput("A flight must end after it starts.", field="ends_at")
    flight = Flight.objects.create(campaign=campaign, starts_at=starts_at, ends_at=ends_at)
    audit_record(organisation=campaign.organisation, actor=actor, action="flight.create",
                 target=flight, changes={"starts_at": _iso(starts_at), "ends_at": _iso(ends_at)})
    campaign_content_changed(campaign=campaign, actor=actor)
    return flight


@transaction.atomic
def flight_delete(*, flight: Flight, actor: Actor) -> None:
    campaign = _campaign_for_update(flight.campaign)
    _require_editable(campaign)
    audit_record(organisation=campaign.organisation, actor=actor, action="flight.delete",
                 target=flight)
    flight.delete()
    campaign_content_changed(campaign=campaign, actor=actor)


# --- authoring: arms ------------------------------------------------------------------------

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
    _require_editable(campaign)
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
    _require_editable(campaign)
    if arm.exposures.exists():
        raise Conflict("This arm already has exposures: it cannot be deleted.",
                       current_state=campaign.status)
    audit_record(organisation=campaign.organisation, actor=actor, action="arm.delete",
                 target=arm, changes={"name": arm.name})
    arm.delete()
    campaign_content_changed(campaign=campaign, actor=actor)


# --- authoring: messages --------------------------------------------------------------------

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


# --- authoring: schedules -------------------------------------------------------------------

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
    _require_editable(campaign)
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
    _require_editable(campaign)
    audit_record(organisation=campaign.organisation, actor=actor, action="schedule.delete",
                 target=schedule)
    schedule.delete()
    campaign_content_changed(campaign=campaign, actor=actor)


def schedule_mark_fired(*, schedule: Schedule, occurrence: datetime) -> datetime | None:
    """Advance `next_fire_at` past `occurrence` (conditional: only one worker advances it).

    For the delivery engine after it has fanned an occurrence out into delivery rows.
    Returns the new next_fire_at (None when the schedule is spent or another worker won).
    """
    next_fire = schedule_next_fire(schedule, occurrence)
    updated = Schedule.objects.filter(pk=schedule.pk, next_fire_at=occurrence).update(
        next_fire_at=next_fire)
    if updated:
        schedule.next_fire_at = next_fire
        return next_fire
    return None
