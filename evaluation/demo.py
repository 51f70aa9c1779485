"""Demo data for evaluation: a locked plan and simulated evidence for the demo campaign.

``seed_demo(campaign=)`` writes a pre-registered plan (hypothesis, comparator rationale,
power calculation), locks it, simulates raw exposures and outcomes for the campaign's arms
over the last 14 days and rolls them up through the real rollup. Everything simulated is
marked: exposures carry ``trigger="demo_simulated"``. The 90 days of helpline contact totals
for the interrupted time series are interventions' rows: ``interventions.demo``.

Rates follow the reThink funnel's shape (information requests ~3.4x help clicks, contacts
~14% of clicks; a fifth of the contacts left the queue unanswered, the others were answered,
as the helpline hosted here records them) scaled up about 30x so that two weeks of demo traffic
give visible intervals; the first variant has a real +50% effect on help clicks.
Idempotent: a second call only makes sure the plan exists and is locked.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from core.pseudonyms import pseudonymise
from evaluation.models import EvaluationPlan, Exposure
from evaluation.rollup import rollup_pending
from evaluation.services import plan_create, plan_lock_for_campaign
from organisations.services import Actor

DAYS = 14
EXPOSURES = 90_000
HELP_CLICK = 0.005  # reThink: 490 / 2.8M = 0.000175, scaled ~30x for the demo
INFO_PER_CLICK = 3.4
CONTACT_PER_CLICK = 0.14
# What became of a contact on the helpline hosted here (as helpline.services records it):
# answered by a counsellor, else it left the queue unanswered (days later nobody still waits).
ABANDONED_PER_CONTACT = 0.2
EFFECT = 1.5  # the first variant's real effect on help clicks
SIMULATED = "demo_simulated"

PLAN = {
    "hypothesis": "Showing a variant message raises help clicks over the comparator "
                  "message, without raising opt-outs or complaints.",
    "primary_outcome": "help_click",
    "secondary_outcomes": ["info_requested", "helpline_contact"],
    "guardrail_outcomes": ["opt_out", "complaint", "delivery_failed"],
    "comparator_rationale": "Every arm, the comparator included, shows a warning and "
                            "signposts confidential help, so nobody is denied help.",
    "unit_of_analysis": "session",
    "alpha": 0.05,
    "power": 0.8,
    "baseline_rate": HELP_CLICK,
    "minimum_detectable_effect": 0.4,
    "mde_is_relative": True,
    "sequential": True,
}


def seed_demo(*, campaign) -> str:  # type: ignore[no-untyped-def]
    """Plan, lock and simulate evidence for ``campaign``; returns a one-line summary."""
    arms = list(campaign.arms.all().order_by("pk"))
    comparators = [a for a in arms if a.kind in ("comparator", "holdout")]
    if not comparators or not any(a.kind == "variant" for a in arms):
        return "evaluation: the campaign needs a comparator and a variant arm; nothing seeded"
    plan = _plan(campaign, comparators[0].kind)
    if Exposure.objects.filter(campaign=campaign, trigger=SIMULATED).exists():
        return f"evaluation: already seeded; plan locked with hash {plan.locked_hash[:12]}…"
    exposures = _simulate(campaign, arms)
    result = rollup_pending()
    return (f"evaluation: plan locked (SHA-256 {plan.locked_hash[:12]}…), {exposures:,} "
            f"simulated exposures rolled up ({result.outcomes:,} outcomes)")


def _plan(campaign, comparator_kind: str) -> EvaluationPlan:  # type: ignore[no-untyped-def]
    plan = EvaluationPlan.objects.filter(campaign=campaign).first()
    if plan is None:
        kind = "holdout" if comparator_kind == "holdout" else "neutral_control"
        plan = plan_create(campaign=campaign, actor=Actor.system(), comparator_kind=kind,
                           **PLAN)
    return plan_lock_for_campaign(campaign=campaign) or plan


def _simulate(campaign, arms: list) -> int:  # type: ignore[no-untyped-def]
    # Seeded by the arms' names and kinds, not the campaign's id: the same design simulates
    # the same evidence wherever the database's id sequences stand (a test's result
    # depended on how many campaigns earlier tests had created).
    design = ",".join(f"{a.name}:{a.kind}" for a in arms)
    rng = random.Random("outreach-demo-" + design)
    queue_rng = random.Random("outreach-demo-queue-" + design)  # leaves rng's draws as they were
    weights = [float(a.weight) or 1.0 for a in arms]
    first_variant = next(a for a in arms if a.kind == "variant")
    channels = [c for c in (campaign.channels or []) if c] or ["on_platform"]
    start = timezone.now() - timedelta(days=DAYS)
    purpose = f"session:{campaign.organisation_id}"
    exposures: list[tuple] = []
    outcomes: list[tuple] = []
    for n in range(EXPOSURES):
        arm = rng.choices(arms, weights)[0]
        at = start + timedelta(seconds=rng.uniform(0, DAYS * 86_400))
        person = pseudonymise(f"demo-session-{rng.randrange(int(EXPOSURES * 0.8))}",
                              purpose=purpose, at=at)
        exposure_id = uuid.uuid4()
        exposures.append((
            _uuid(exposure_id), campaign.organisation_id, campaign.pk, arm.pk, "intervention",
            rng.choice(channels), rng.choices(["GB", "IE"], [0.85, 0.15])[0], "en", SIMULATED,
            person.key_id, person.value, arm.kind == "holdout", _when(at)))
        effect = EFFECT if arm.pk == first_variant.pk else 1.0
        simulated = _outcomes(rng, arm.kind == "holdout", effect)
        simulated += _queue_outcomes(queue_rng, simulated)
        for kind, delay in simulated:
            outcomes.append((campaign.organisation_id, _uuid(exposure_id), campaign.pk, kind,
                             f"demo-{n}-{kind}", _when(at + delay), _when(at + delay)))
    # Plain executemany: the ORM's bulk_create is ten times slower for this many rows.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO evaluation_exposure (id, organisation_id, campaign_id, arm_id, source, "
            "channel, country, language, trigger, subject_key_id, subject_pseudonym, "
            "is_holdout, occurred_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
            "%s)", exposures)
        cursor.executemany(
            "INSERT INTO evaluation_outcome (organisation_id, exposure_id, campaign_id, kind, "
            "idempotency_key, occurred_at, recorded_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            outcomes)
    return len(exposures)


def _uuid(value: uuid.UUID):  # type: ignore[no-untyped-def]
    return value if connection.vendor == "postgresql" else value.hex


def _when(moment: datetime):  # type: ignore[no-untyped-def]
    return connection.ops.adapt_datetimefield_value(moment)


def _outcomes(rng: random.Random, holdout: bool, effect: float) -> list[tuple[str, timedelta]]:
    # A holdout saw no message, so fewer people find help (a base rate of a tenth).
    click = HELP_CLICK * (0.1 if holdout else effect)
    return [(kind, timedelta(minutes=rng.randint(1, 90)))
            for kind, p in (("info_requested", click * INFO_PER_CLICK), ("help_click", click),
                            ("helpline_contact", click * CONTACT_PER_CLICK), ("opt_out", 0.0004))
            if rng.random() < p]


def _queue_outcomes(rng: random.Random, simulated: list[tuple[str, timedelta]]
                    ) -> list[tuple[str, timedelta]]:
    """After a simulated helpline contact: answered by a counsellor, or abandoned."""
    contact = next((delay for kind, delay in simulated if kind == "helpline_contact"), None)
    if contact is None:
        return []
    kind = "helpline_abandoned" if rng.random() < ABANDONED_PER_CONTACT else "helpline_answered"
    return [(kind, contact + timedelta(minutes=rng.randint(1, 15)))]
