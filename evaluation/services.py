"""Writes to the evidence log, evaluation plans and the disclosure settings.

Delivery and interventions record exposures only through ``exposure_record``. Plans change
only through ``plan_create`` / ``plan_update`` (before the lock), ``plan_lock`` and
``plan_amend`` (after it). Every write that a person causes is audited in its transaction.
Rollups: ``evaluation.rollup``; retention and key destruction: ``evaluation.retention``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.disclosure import DisclosurePolicy
from core.errors import Conflict, InvalidInput
from core.pseudonyms import Pseudonym
from core.vocabulary import GUARDRAIL_ONLY_KINDS, OutcomeKind
from evaluation.exposure_log import (  # noqa: F401 (the contract: re-exported)
    ExposureCap,
    ExposureRow,
    exposure_insert_unless_capped,
    exposure_model,
    exposures_insert_many,
)
from evaluation.models import (
    AnalysisMethod,
    ComparatorKind,
    DisclosureSettings,
    EvaluationPlan,
    Exposure,
    ExposureSource,
    Outcome,
    PlanAmendment,
    UnitOfAnalysis,
)
from evaluation.stats import SampleSizeResult, required_sample_size
from organisations.models import Organisation
from organisations.services import Actor, audit_record

# --- exposures (the contract) ----------------------------------------------------------------


def exposure_record(*, campaign, arm, subject: Pseudonym, source: str, channel: str,  # type: ignore[no-untyped-def]
                    country: str = "", language: str = "", segment=None, schedule=None,
                    partner=None, message=None, trigger: str = "",
                    occurred_at: datetime | None = None,
                    exposure_id: uuid.UUID | None = None) -> Exposure:
    """Record one exposure (a holdout assignment counts too: arm.kind == "holdout").

    `exposure_id` lets a sender fix the id in advance (links signed before the send)."""
    exposure = exposure_model(exposure_row(
        campaign=campaign, arm=arm, subject=subject, source=source, channel=channel,
        country=country, language=language, segment=segment, schedule=schedule,
        partner=partner, message=message, trigger=trigger, occurred_at=occurred_at,
        exposure_id=exposure_id))
    exposure.save(force_insert=True)
    return exposure


def exposures_record_many(records: list[dict]) -> list[uuid.UUID]:
    """Many exposures in one statement (a worker's flush of sends); each dict holds
    `exposure_record`'s keyword arguments. An exposure whose fixed id exists already (a message
    re-sent after a crash) is not counted twice. Returns the ids, in the records' order."""
    rows = [exposure_row(**record) for record in records]
    exposures_insert_many(rows)
    return [row.id for row in rows]


def outcome_record(*, kind: str, idempotency_key: str, exposure: Exposure | None = None,
                   campaign: Any = None, reported_by_id: int | None = None,
                   at: datetime | None = None) -> None:
    """Record one outcome the system itself observed: the writer of every such outcome (a
    help link's click, a helpline conversation, a learning module's enrolment).

    Attributed to `exposure` (its campaign), else to `campaign` alone (a referral code:
    population-level evidence, no arm); with neither, InvalidInput. `reported_by_id` defaults to
    the exposure's (or campaign's) own organisation. Idempotent: a key counts once per
    reporting organisation (a repeat is ignored)."""
    if kind not in OutcomeKind.values:
        raise InvalidInput(f"unknown outcome kind {kind!r}", field="kind")
    if exposure is not None:
        organisation_id, campaign_id = exposure.organisation_id, exposure.campaign_id
    elif campaign is not None:
        organisation_id, campaign_id = campaign.organisation_id, campaign.pk
    else:
        raise InvalidInput("an outcome is attributed to an exposure or a campaign",
                           field="exposure")
    at = at or timezone.now()
    Outcome.objects.bulk_create([Outcome(
        organisation_id=organisation_id, reported_by_id=reported_by_id or organisation_id,
        exposure=exposure, campaign_id=campaign_id, kind=kind,
        idempotency_key=idempotency_key[:128], occurred_at=at, recorded_at=at)],
        ignore_conflicts=True)


def outcome_record_like(*, reported_by_id: int, like_key: str, kind: str,
                        idempotency_key: str, at: datetime | None = None) -> bool:
    """Record `kind` attributed as the outcome (reported_by_id, like_key) is: the same exposure,
    or the same campaign without one (e.g. a helpline conversation answered after its
    helpline_contact). False, and nothing written, when that outcome does not exist (it was
    never attributed, or retention has purged it)."""
    first = (Outcome.objects.select_related("exposure", "campaign")
             .filter(reported_by_id=reported_by_id, idempotency_key=like_key).first())
    if first is None or (first.exposure is None and first.campaign is None):
        return False
    outcome_record(kind=kind, idempotency_key=idempotency_key, exposure=first.exposure,
                   campaign=first.campaign, reported_by_id=reported_by_id, at=at)
    return True


def exposure_row(*, campaign, arm, subject: Pseudonym, source: str, channel: str,  # type: ignore[no-untyped-def]
                 country: str = "", language: str = "", segment=None, schedule=None,
                 partner=None, message=None, trigger: str = "",
                 occurred_at: datetime | None = None,
                 exposure_id: uuid.UUID | None = None) -> ExposureRow:
    """One exposure's row from the objects involved (`exposure_record`'s arguments)."""
    return ExposureRow(
        id=exposure_id or uuid.uuid4(), organisation_id=campaign.organisation_id,
        campaign_id=campaign.pk, arm_id=arm.pk, schedule_id=getattr(schedule, "pk", None),
        segment_id=getattr(segment, "pk", None), partner_id=getattr(partner, "pk", None),
        message_id=getattr(message, "pk", None), source=ExposureSource(source), channel=channel,
        country=country, language=language, trigger=trigger, subject_key_id=subject.key_id,
        subject_pseudonym=subject.value, is_holdout=arm.kind == "holdout",
        occurred_at=occurred_at or timezone.now())


# --- evaluation plans ------------------------------------------------------------------------

PLAN_FIELDS = (
    "hypothesis", "primary_outcome", "secondary_outcomes", "guardrail_outcomes",
    "comparator_kind", "comparator_rationale", "unit_of_analysis", "alpha", "power",
    "baseline_rate", "minimum_detectable_effect", "mde_is_relative", "analysis_method",
    "sequential",
)
MAX_SAMPLE_PER_ARM = 10**12  # beyond any campaign, and within a bigint
COMPARATOR_ARM_KIND = {
    ComparatorKind.HOLDOUT: "holdout",
    ComparatorKind.NEUTRAL_CONTROL: "comparator",
    ComparatorKind.ACTIVE_STANDARD: "comparator",
}


def plan_canonical(plan: EvaluationPlan) -> dict[str, Any]:
    """The plan as the hash sees it: its fields plus the campaign's arms and weights."""
    form: dict[str, Any] = {name: getattr(plan, name) for name in PLAN_FIELDS}
    form["secondary_outcomes"] = sorted(form["secondary_outcomes"])
    form["guardrail_outcomes"] = sorted(form["guardrail_outcomes"])
    form["required_sample_per_arm"] = plan.required_sample_per_arm
    form["campaign"] = plan.campaign_id
    form["arms"] = sorted(
        [arm.name, arm.kind, str(arm.weight.normalize())] for arm in plan.campaign.arms.all())
    return form


def plan_hash(plan: EvaluationPlan) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no whitespace, UTF-8)."""
    text = json.dumps(plan_canonical(plan), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def plan_expected_hash(plan: EvaluationPlan) -> str:
    """The hash the plan should have now: the lock's, or the last amendment's."""
    last = plan.amendments.order_by("-at", "-pk").first()
    return last.new_hash if last else plan.locked_hash


def plan_design(plan: EvaluationPlan) -> tuple[int, float]:
    """(variants compared, variant trials per comparator trial) from the campaign's arms.

    Each variant is one comparison in the report's Holm family. With unequal weights the
    smallest variant weight sets the ratio: that variant needs the largest comparator arm,
    so sizing for it gives every variant at least the planned power. Before the arms exist
    (a plan drafted first) the design is one variant with equal allocation; locking
    recomputes it from the arms the campaign starts with.
    """
    wanted = COMPARATOR_ARM_KIND.get(plan.comparator_kind, "comparator")
    arms = list(plan.campaign.arms.all()) if plan.campaign_id else []
    comparators = [a for a in arms if a.kind == wanted]
    variants = [float(a.weight) for a in arms if a.kind == "variant" and a.weight > 0]
    if not variants:
        return 1, 1.0
    comparator_weight = float(comparators[0].weight) if comparators else 0.0
    ratio = min(variants) / comparator_weight if comparator_weight > 0 else 1.0
    return len(variants), ratio


def plan_required_sample_size(*, plan: EvaluationPlan) -> SampleSizeResult:
    """Comparator-arm sample for the plan's baseline, effect, alpha and power, sized for the
    Holm adjustment over its variants and for its allocation weights (evaluation.stats.power).
    """
    comparisons, ratio = plan_design(plan)
    try:
        result = required_sample_size(
            plan.baseline_rate, minimum_detectable_effect=plan.minimum_detectable_effect,
            relative=plan.mde_is_relative, alpha=plan.alpha, power=plan.power,
            ratio=ratio, comparisons=comparisons, adjustment="holm")
    except (ValueError, ArithmeticError) as error:
        raise InvalidInput(str(error), field="minimum_detectable_effect") from error
    if not 0 < result.comparator_per_arm <= MAX_SAMPLE_PER_ARM:
        raise InvalidInput(
            f"this effect needs {result.comparator_per_arm:,} per arm; plan for an effect "
            f"that needs at most {MAX_SAMPLE_PER_ARM:,}", field="minimum_detectable_effect")
    return result


def _check_outcomes(name: str, values: Any) -> list[str]:
    if not isinstance(values, list) or any(v not in OutcomeKind.values for v in values):
        raise InvalidInput(f"must be a list of outcome kinds: {', '.join(OutcomeKind.values)}",
                           field=name)
    return list(dict.fromkeys(values))


def _check_not_aimed_for(name: str, values: list[str]) -> None:
    """A harm (core.vocabulary.GUARDRAIL_ONLY_KINDS) is watched as a guardrail, never a goal."""
    wrong = [v for v in values if v in GUARDRAIL_ONLY_KINDS]
    if wrong:
        raise InvalidInput(f"{', '.join(wrong)} is a harm to watch, not an aim: name it as a "
                           "guardrail outcome", field=name)


def _check_choice(name: str, value: Any, choices: type) -> None:
    if value not in choices.values:
        raise InvalidInput(f"must be one of {', '.join(choices.values)}", field=name)


def _validate_plan(plan: EvaluationPlan) -> None:
    _check_choice("primary_outcome", plan.primary_outcome, OutcomeKind)
    _check_choice("comparator_kind", plan.comparator_kind, ComparatorKind)
    _check_choice("unit_of_analysis", plan.unit_of_analysis, UnitOfAnalysis)
    _check_choice("analysis_method", plan.analysis_method, AnalysisMethod)
    plan.secondary_outcomes = _check_outcomes("secondary_outcomes", plan.secondary_outcomes)
    plan.guardrail_outcomes = _check_outcomes("guardrail_outcomes", plan.guardrail_outcomes)
    _check_not_aimed_for("primary_outcome", [plan.primary_outcome])
    _check_not_aimed_for("secondary_outcomes", plan.secondary_outcomes)
    if not 0 < float(plan.alpha) < 0.5:
        raise InvalidInput("must be between 0 and 0.5", field="alpha")
    if not 0 < float(plan.power) < 1:
        raise InvalidInput("must be between 0 and 1", field="power")
    if not 0 < float(plan.baseline_rate) < 1:
        raise InvalidInput("must be a proportion between 0 and 1", field="baseline_rate")
    plan.required_sample_per_arm = plan_required_sample_size(plan=plan).comparator_per_arm


def plan_validate(plan: EvaluationPlan) -> None:
    """Check an unsaved plan's fields (raises ``InvalidInput`` naming the field)."""
    _validate_plan(plan)


def _validate_for_lock(plan: EvaluationPlan) -> None:
    _validate_plan(plan)
    if not plan.hypothesis.strip():
        raise InvalidInput("a locked plan needs a hypothesis", field="hypothesis")
    if not plan.comparator_rationale.strip():
        raise InvalidInput("record why the comparator is ethical", field="comparator_rationale")
    wanted = COMPARATOR_ARM_KIND[ComparatorKind(plan.comparator_kind)]
    kinds = list(plan.campaign.arms.values_list("kind", flat=True))
    if kinds.count(wanted) != 1 or "variant" not in kinds:
        raise InvalidInput(
            f"the campaign needs exactly one {wanted} arm and at least one variant arm",
            field="comparator_kind")


def _apply(plan: EvaluationPlan, fields: dict[str, Any]) -> dict[str, list[Any]]:
    unknown = sorted(set(fields) - set(PLAN_FIELDS))
    if unknown:
        raise InvalidInput(f"unknown plan fields: {', '.join(unknown)}", field=unknown[0])
    changes = {}
    for name, value in fields.items():
        old = getattr(plan, name)
        if old != value:
            changes[name] = [old, value]
            setattr(plan, name, value)
    return changes


@transaction.atomic
def plan_create(*, campaign, actor: Actor, **fields: Any) -> EvaluationPlan:  # type: ignore[no-untyped-def]
    if EvaluationPlan.objects.filter(campaign=campaign).exists():
        raise Conflict("this campaign already has an evaluation plan")
    plan = EvaluationPlan(campaign=campaign)
    _apply(plan, fields)
    _validate_plan(plan)
    plan.save()
    audit_record(organisation=campaign.organisation, actor=actor, action="evaluation_plan.create",
                 target=plan, changes=_jsonable(fields))
    return plan


@transaction.atomic
def plan_update(*, plan: EvaluationPlan, actor: Actor, **fields: Any) -> EvaluationPlan:
    """Edit a plan before it is locked. A locked plan changes only by ``plan_amend``."""
    plan = EvaluationPlan.objects.select_for_update().get(pk=plan.pk)
    if plan.is_locked:
        raise Conflict("the plan is locked; record an amendment with a reason instead")
    changes = _apply(plan, fields)
    _validate_plan(plan)
    plan.save()
    audit_record(organisation=plan.campaign.organisation, actor=actor,
                 action="evaluation_plan.update", target=plan, changes=_jsonable(changes))
    return plan


@transaction.atomic
def plan_lock(*, plan: EvaluationPlan, actor: Actor) -> EvaluationPlan:
    """Lock a plan: validate it, store the SHA-256 of its canonical form. Idempotent."""
    plan = EvaluationPlan.objects.select_for_update().get(pk=plan.pk)
    if plan.is_locked:
        return plan
    _validate_for_lock(plan)
    plan.save()
    plan.locked_hash = plan_hash(plan)
    plan.locked_at = timezone.now()
    plan.save(update_fields=["locked_hash", "locked_at", "required_sample_per_arm"])
    audit_record(organisation=plan.campaign.organisation, actor=actor,
                 action="evaluation_plan.lock", target=plan,
                 changes={"hash": plan.locked_hash})
    return plan


def plan_lock_for_campaign(*, campaign, actor: Actor | None = None) -> EvaluationPlan | None:  # type: ignore[no-untyped-def]
    """Called by ``campaign_start``: lock the campaign's plan if it has one. Idempotent.

    Returns None when the campaign has no plan (its report then says it was not
    pre-registered). Raises ``InvalidInput`` when the plan is incomplete, which should stop
    the start: an evaluation plan that cannot be locked is not a pre-registration.
    """
    plan = EvaluationPlan.objects.filter(campaign=campaign).first()
    if plan is None:
        return None
    return plan_lock(plan=plan, actor=actor or Actor.system())


@transaction.atomic
def plan_amend(*, plan: EvaluationPlan, actor: Actor, reason: str,
               **fields: Any) -> PlanAmendment:
    """Change a locked plan with a recorded reason, time and the before/after hashes."""
    plan = EvaluationPlan.objects.select_for_update().get(pk=plan.pk)
    if not plan.is_locked:
        raise Conflict("the plan is not locked yet; edit it directly")
    if not reason or not reason.strip():
        raise InvalidInput("an amendment needs a reason", field="reason")
    previous_hash = plan_expected_hash(plan)
    changes = _apply(plan, fields)
    if not changes:
        raise InvalidInput("the amendment changes nothing", field="changes")
    _validate_plan(plan)
    plan.save()
    amendment = PlanAmendment.objects.create(
        plan=plan, reason=reason.strip(), changes=_jsonable(changes), at=timezone.now(),
        actor=actor.signed_in_user,
        actor_label=_actor_label(actor), previous_hash=previous_hash, new_hash=plan_hash(plan))
    audit_record(organisation=plan.campaign.organisation, actor=actor,
                 action="evaluation_plan.amend", target=plan,
                 changes={"reason": amendment.reason, "changes": amendment.changes,
                          "previous_hash": previous_hash, "new_hash": amendment.new_hash})
    return amendment


def _actor_label(actor: Actor) -> str:
    if actor.api_key is not None:
        return f"api-key:{actor.api_key.prefix}"
    if actor.signed_in_user is not None:
        return actor.signed_in_user.get_username()
    return "system"


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# --- per-programme settings ------------------------------------------------------------------


def disclosure_policy_for(organisation: Organisation) -> DisclosurePolicy:
    """The programme's disclosure policy (defaults when unset), never disabled in production."""
    row = DisclosureSettings.objects.filter(organisation=organisation).first()
    if row is None:
        return DisclosurePolicy()
    policy = DisclosurePolicy(threshold=row.threshold, rounding_base=row.rounding_base,
                              enabled=row.enabled)
    if settings.PRODUCTION and not policy.enabled:
        # A row saved outside production must not switch control off in production.
        return DisclosurePolicy(threshold=row.threshold, rounding_base=row.rounding_base)
    return policy


@transaction.atomic
def disclosure_settings_set(*, organisation: Organisation, actor: Actor, threshold: int = 10,
                            rounding_base: int = 5, enabled: bool = True) -> DisclosureSettings:
    try:
        DisclosurePolicy(threshold=threshold, rounding_base=rounding_base,
                         enabled=enabled).validate(settings.PRODUCTION)
    except ValueError as error:
        raise InvalidInput(str(error), field="enabled" if not enabled else "threshold") \
            from error
    row, _ = DisclosureSettings.objects.update_or_create(
        organisation=organisation,
        defaults={"threshold": threshold, "rounding_base": rounding_base, "enabled": enabled})
    audit_record(organisation=organisation, actor=actor, action="disclosure_settings.set",
                 target=row, changes={"threshold": threshold, "rounding_base": rounding_base,
                                      "enabled": enabled})
    return row

