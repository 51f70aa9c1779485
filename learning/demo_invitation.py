"""Demo: the campaign that invites teachers to the demo's teachers' module.

A segment of professionals in the UK, a few demo teachers (@example.org addresses, which the
demo's mail sink receives), two invitation wordings (a variant and a plain comparator) whose
email lists the help resources for professionals (the module among them, each linked through
the signed /go/ redirect, which adds the `via` exposure for a module hosted here), a locked
evaluation plan on enrolment and completion, and a one-off email step a minute after seeding:
`make demo`'s worker really sends it to the mail sink.

The simulated learners need exposures before that send, so earlier invitations are simulated
(exposures marked `trigger="demo_simulated"`, like evaluation's demo) and rolled up: the
campaign's report shows its learning section at once. Idempotent.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from campaigns import authoring, lifecycle
from campaigns.models import Campaign, Message
from core.pseudonyms import pseudonymise
from evaluation.models import Exposure
from evaluation.services import plan_create
from organisations.models import Organisation
from organisations.services import Actor
from segments.models import Segment
from segments.recipients import recipients_import
from segments.services import segment_create

CAMPAIGN_NAME = "Training invitation: teachers — UK"
SEGMENT_NAME = "Teachers in the UK"
TEACHER_RECIPIENTS = 12
SIMULATED = "demo_simulated"
SIMULATED_DAYS = 10

INVITATION = (
    "<p>Dear colleague,</p>"
    "<p>{{ organisation_name }} offers teachers a free online module, about twenty minutes: "
    "understanding prevention, responding to a concern, and where to point people for "
    "confidential help. It ends with a certificate.</p>"
    "{% for r in help_resources %}<p>{{ r.name }}{% if r.phone %}: {{ r.phone }}{% endif %}"
    ' — <a href="{{ r.url }}">{{ r.url }}</a></p>{% endfor %}'
    '<p><small><a href="{{ opt_out_link }}">Stop these messages</a></small></p>'
)
DUTY = (
    "<p>Dear colleague,</p>"
    "<p>Every member of school staff shares the duty to keep children safe. A free online "
    "module from {{ organisation_name }} shows how to respond to a concern and where a person "
    "can get confidential help before anyone is harmed.</p>"
    "{% for r in help_resources %}<p>{{ r.name }}{% if r.phone %}: {{ r.phone }}{% endif %}"
    ' — <a href="{{ r.url }}">{{ r.url }}</a></p>{% endfor %}'
    '<p><small><a href="{{ opt_out_link }}">Stop these messages</a></small></p>'
)
MESSAGES = (
    # (name, framing, polarity, subject, body, arm, arm kind)
    ("Teacher training: safeguarding duty (email)", "legal_deterrence", "neutral",
     "Safeguarding: a free module for school staff", DUTY, "safeguarding duty", "variant"),
    ("Teacher training: plain invitation (email)", "neutral_control", "neutral",
     "A free module for teachers", INVITATION, "plain invitation", "comparator"),
)
PLAN = {
    "hypothesis": "Framing the invitation as part of the safeguarding duty raises completion "
                  "of the module over a plain invitation.",
    "primary_outcome": "module_completed",
    "secondary_outcomes": ["module_enrolled", "help_click"],
    "guardrail_outcomes": ["opt_out", "delivery_failed"],
    "comparator_rationale": "Both arms invite to the same module; only the wording differs.",
    "comparator_kind": "neutral_control",
    "unit_of_analysis": "recipient",
    "baseline_rate": 0.2,
    "minimum_detectable_effect": 0.5,
    "mde_is_relative": True,
}


def teacher_rows() -> list[dict]:
    return [{"reference": f"DEMO-TEACHER-{n:03d}", "stage": "professional", "country": "GB",
             "language": "en", "time_zone": "Europe/London", "age": 25 + n,
             "email": f"teacher{n:02d}@example.org", "consent_basis": "consent",
             "consent_source": "school safeguarding training sign-up (demo)"}
            for n in range(1, TEACHER_RECIPIENTS + 1)]


def _segment(programme: Organisation, actor: Actor) -> Segment:
    existing = Segment.objects.filter(organisation=programme, name=SEGMENT_NAME).first()
    return existing or segment_create(
        organisation=programme, actor=actor, name=SEGMENT_NAME, stage="professional",
        rule='stage = "professional" and country = "GB"',
        description="School staff who signed up for safeguarding training (demo addresses).")


def _message(programme: Organisation, actor: Actor, spec: tuple) -> Message:
    name, framing, polarity, subject, body, _, _ = spec
    existing = Message.objects.filter(organisation=programme, name=name).first()
    return existing or authoring.message_create(
        organisation=programme, actor=actor, name=name, channel="email", language="en",
        framing=framing, polarity=polarity, subject=subject, body=body)


def invitation_campaign_seed(*, programme: Organisation, author: Actor,
                             signer: Actor) -> Campaign:
    """The running invitation campaign (its module must be published first: the launch gate
    wants a confirmed resource for professionals, and the email lists it)."""
    existing = Campaign.objects.filter(organisation=programme, name=CAMPAIGN_NAME).first()
    if existing is not None:
        return existing
    recipients_import(organisation=programme, rows=teacher_rows(), actor=author)
    now = timezone.now()
    campaign = authoring.campaign_create(
        organisation=programme, actor=author, name=CAMPAIGN_NAME, priority=5,
        objective="Invite school staff in the UK to the prevention module for teachers, and "
                  "compare a safeguarding-duty wording with a plain invitation.",
        channels=["email"], countries=["GB"], languages=["en"],
        segments=[_segment(programme, author)], frequency_cap_count=1, frequency_cap_days=30)
    for spec in MESSAGES:
        authoring.arm_save(campaign=campaign, actor=author, name=spec[5], kind=spec[6],
                          weight=Decimal(50), messages=[_message(programme, author, spec)])
    authoring.flight_create(campaign=campaign, actor=author, starts_at=now - timedelta(hours=1),
                           ends_at=now + timedelta(days=60))
    authoring.schedule_save(campaign=campaign, actor=author, kind="one_off", channel="email",
                           send_at=now + timedelta(minutes=1), now=now)
    plan_create(campaign=campaign, actor=author, **PLAN)
    lifecycle.campaign_submit(campaign=campaign, actor=author)
    lifecycle.campaign_approve(campaign=campaign, actor=signer)
    lifecycle.campaign_schedule(campaign=campaign, actor=author, now=now)
    return lifecycle.campaign_start(campaign=campaign, actor=Actor.system())


def earlier_invitations_simulate(campaign: Campaign, count: int) -> int:
    """Exposures of earlier (simulated) invitation emails, spread over the last days."""
    if Exposure.objects.filter(campaign=campaign, trigger=SIMULATED).exists():
        return 0
    rng = random.Random(f"outreach-demo-invitations-{campaign.pk}")
    arms = list(campaign.arms.order_by("pk"))
    start = timezone.now() - timedelta(days=SIMULATED_DAYS)
    rows = []
    for n in range(count):
        at = start + timedelta(seconds=rng.uniform(0, (SIMULATED_DAYS - 1) * 86_400))
        person = pseudonymise(f"demo-simulated-teacher-{n}",
                              purpose=f"recipient:{campaign.organisation_id}", at=at)
        rows.append(Exposure(
            organisation_id=campaign.organisation_id, campaign=campaign, arm=arms[n % len(arms)],
            source="delivery", channel="email", country="GB", language="en", trigger=SIMULATED,
            subject_key_id=person.key_id, subject_pseudonym=person.value, occurred_at=at))
    Exposure.objects.bulk_create(rows)
    return len(rows)
