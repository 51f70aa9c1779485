"""Reads of the evidence log, always scoped to an organisation."""

from __future__ import annotations

from campaigns.models import Campaign
from campaigns.selectors import campaigns_visible_to
from evaluation.models import EvaluationPlan, Exposure
from evaluation.rollup import rolled_up_exposures


def campaign_for_report(*, organisation, campaign_id: int):  # type: ignore[no-untyped-def]
    """The campaign if ``organisation`` owns it or is a partner enrolled in it; else 404.

    Another organisation's campaign raises ``Campaign.DoesNotExist`` (a 404, never a 403),
    so a caller cannot learn which campaign ids exist.
    """
    _check_id(campaign_id)
    return campaigns_visible_to(organisation).get(pk=campaign_id)


def _check_id(campaign_id: int) -> None:
    if not 0 < campaign_id < 2**63:  # beyond a bigint: no such row (and no database error)
        raise Campaign.DoesNotExist


def campaign_owned(*, organisation, campaign_id: int):  # type: ignore[no-untyped-def]
    """The campaign if ``organisation`` owns it (plans are the programme's own business)."""
    _check_id(campaign_id)
    return Campaign.objects.get(organisation=organisation, pk=campaign_id)


def plan_for_campaign(*, campaign):  # type: ignore[no-untyped-def]
    return EvaluationPlan.objects.filter(campaign=campaign).prefetch_related(
        "amendments").first()


def exposures_pending_rollup() -> int:
    """Raw exposures not yet counted in the daily cells (for health checks and tests)."""
    return Exposure.objects.exclude(rolled_up_exposures()).count()
