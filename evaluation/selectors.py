"""Reads of the evidence log, always scoped to an organisation."""

from __future__ import annotations

from evaluation.models import Exposure


def campaign_for_report(*, organisation, campaign_id: int):  # type: ignore[no-untyped-def]
    """The campaign if ``organisation`` owns it or is a partner enrolled in it; else 404.

    Another organisation's campaign raises ``Campaign.DoesNotExist`` (a 404, never a 403),
    so a caller cannot learn which campaign ids exist.
    """
    from django.db.models import Q

    from campaigns.models import Campaign

    _check_id(campaign_id)
    visible = Campaign.objects.filter(Q(organisation=organisation) | Q(partners=organisation))
    return visible.distinct().get(pk=campaign_id)


def _check_id(campaign_id: int) -> None:
    from campaigns.models import Campaign

    if not 0 < campaign_id < 2**63:  # beyond a bigint: no such row (and no database error)
        raise Campaign.DoesNotExist


def campaign_owned(*, organisation, campaign_id: int):  # type: ignore[no-untyped-def]
    """The campaign if ``organisation`` owns it (plans are the programme's own business)."""
    from campaigns.models import Campaign

    _check_id(campaign_id)
    return Campaign.objects.get(organisation=organisation, pk=campaign_id)


def plan_for_campaign(*, campaign):  # type: ignore[no-untyped-def]
    from evaluation.models import EvaluationPlan

    return EvaluationPlan.objects.filter(campaign=campaign).prefetch_related(
        "amendments").first()


def exposures_pending_rollup() -> int:
    """Raw exposures not yet counted in the daily cells (for health checks and tests)."""
    from evaluation.rollup import rolled_up_exposures

    return Exposure.objects.exclude(rolled_up_exposures()).count()
