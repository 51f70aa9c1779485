"""The server-enforced campaign lifecycle (authoring is campaigns/authoring.py).

Lifecycle: draft -> in_review -> approved -> scheduled -> running <-> paused -> completed, or
cancelled from any live state. Every transition goes through `_transition`, which is
`organisations.transitions.transition` on this table: one conditional UPDATE (`status IN
allowed`), so two concurrent transitions cannot both win, and one audit row in the same
transaction. An illegal transition raises Conflict (HTTP 409) with `current_state`.

Four eyes: the approver is a reviewer or manager of the organisation and neither the author
nor the submitter. Approval stores a hash and a snapshot of the content; editing the content
of an in-review or approved campaign returns it to draft, and editing a scheduled, running or
paused campaign is refused (cancel, or complete, and start a new version).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from campaigns.content import campaign_content, campaign_content_hash, campaign_content_intact
from campaigns.launch import help_resource_problems, launch_problems
from campaigns.models import Campaign, CampaignStatus, Schedule
from campaigns.schedules import schedule_next_fire
from campaigns.selectors import flights_ended
from core.errors import Conflict, Forbidden, InvalidInput
from evaluation.services import plan_lock_for_campaign
from organisations.review import four_eyes_refusal
from organisations.services import Actor
from organisations.transitions import TransitionTable, transition, transition_require

S = CampaignStatus


class NotAllowed(Forbidden):
    """The actor may not do this (e.g. approve their own campaign): HTTP 403."""


# action -> (statuses it may start from, status it leads to)
TRANSITIONS: TransitionTable = {
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


def _transition(*, campaign: Campaign, action: str, actor: Actor,
                updates: dict | None = None, changes: dict | None = None) -> Campaign:
    now = timezone.now()
    return transition(instance=campaign, table=TRANSITIONS, action=action, actor=actor,
                      audit_prefix="campaign", noun="campaign", field="status",
                      updates={"status_changed_at": now, "updated_at": now, **(updates or {})},
                      changes=changes)


def _require_state(campaign: Campaign, action: str) -> None:
    """Fail early (before the launch gate's queries) when the transition cannot apply."""
    transition_require(table=TRANSITIONS, action=action, state=campaign.status, noun="campaign")


@transaction.atomic
def campaign_submit(*, campaign: Campaign, actor: Actor) -> Campaign:
    _require_state(campaign, "submit")
    # The submitted content's hash: a later edit (even through a path that forgot to call
    # campaign_content_changed) is detected before approval and at the launch gate.
    return _transition(campaign=campaign, action="submit", actor=actor,
                       updates={"submitted_by": actor.signed_in_user,
                                "content_hash": campaign_content_hash(campaign)})


def approval_refusal(*, campaign: Campaign, actor: Actor) -> str | None:
    """Why `actor` may not approve `campaign`, or None when they may (four eyes, roles)."""
    return four_eyes_refusal(organisation=campaign.organisation, actor=actor,
                             author_ids=(campaign.created_by_id, campaign.submitted_by_id),
                             noun="campaign")


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
        updates={"approved_by": actor.signed_in_user, "approved_at": timezone.now(),
                 "content_hash": content_hash, "approved_snapshot": content},
        changes={"content_hash": content_hash})


@transaction.atomic
def campaign_reject(*, campaign: Campaign, actor: Actor, reason: str = "") -> Campaign:
    _require_state(campaign, "reject")
    if actor.signed_in_user is None:
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
        if flights and flights_ended(((f.starts_at, f.ends_at) for f in flights), now):
            try:
                campaign_complete(campaign=campaign, actor=Actor.system())
                completed += 1
            except Conflict:
                continue
    return {"started": started, "completed": completed}


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
    require_editable(campaign)
    return campaign


def require_editable(campaign: Campaign) -> None:
    if campaign.status not in EDITABLE:
        raise Conflict(
            f"cannot edit a campaign that is {campaign.status}: its approved content is frozen "
            "(cancel it and create a new version)", current_state=campaign.status)


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
