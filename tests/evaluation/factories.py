"""Factories for evaluation tests: a campaign with arms, exposures and outcomes, and cells."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

from campaigns.models import Arm, Campaign
from core.pseudonyms import Pseudonym
from evaluation.models import DailyCell, Exposure, Outcome
from evaluation.services import exposure_record
from tests.campaigns.factories import ArmFactory, CampaignFactory


def subject(n: int, key_id: str = "2026-11") -> Pseudonym:
    """A stand-in pseudonym for person ``n`` (tests never need the real HMAC)."""
    return Pseudonym(key_id=key_id, value=hashlib.sha256(f"person-{n}".encode()).hexdigest())


def campaign_with_arms(organisation, arms: dict[str, str] | None = None,  # type: ignore[no-untyped-def]
                       **kwargs) -> tuple[Campaign, dict[str, Arm]]:
    """A campaign with arms named -> kind (default: a neutral comparator and two variants)."""
    campaign = CampaignFactory(organisation=organisation, **kwargs)
    arms = arms or {"control": "comparator", "legal": "variant", "help": "variant"}
    made = {name: ArmFactory(campaign=campaign, name=name, kind=kind)
            for name, kind in arms.items()}
    return campaign, made


def expose(campaign, arm, person: int, *, at: datetime | None = None, channel: str = "on_platform",  # type: ignore[no-untyped-def]
           country: str = "GB", language: str = "en") -> Exposure:
    return exposure_record(
        campaign=campaign, arm=arm, subject=subject(person), source="intervention",
        channel=channel, country=country, language=language,
        occurred_at=at or datetime(2026, 11, 2, 12, tzinfo=UTC))


def outcome(exposure: Exposure | None, kind: str, *, key: str, campaign=None,  # type: ignore[no-untyped-def]
            at: datetime | None = None) -> Outcome:
    organisation = exposure.organisation if exposure else campaign.organisation
    return Outcome.objects.create(
        organisation=organisation, exposure=exposure, kind=kind, idempotency_key=key,
        campaign=campaign or (exposure.campaign if exposure else None),
        occurred_at=at or (exposure.occurred_at if exposure else datetime(2026, 11, 2, 13,
                                                                          tzinfo=UTC)))


def cell(campaign, arm, *, day: date = date(2026, 11, 2), channel: str = "on_platform",  # type: ignore[no-untyped-def]
         country: str = "GB", language: str = "en", exposures: int = 0,
         unique_subjects: int | None = None, **outcomes: int) -> DailyCell:
    """A rolled-up cell written directly: for report tests fed published counts."""
    return DailyCell.objects.create(
        campaign=campaign, arm=arm, channel=channel, country=country, language=language,
        day=day, exposures=exposures,
        unique_subjects=exposures if unique_subjects is None else unique_subjects, **outcomes)
