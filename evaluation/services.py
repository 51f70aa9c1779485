"""Writes to the evidence log. Delivery and interventions record exposures only through here."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from evaluation.models import Exposure, ExposureSource
from outreach.pseudonyms import Pseudonym


def exposure_record(*, campaign, arm, subject: Pseudonym, source: str, channel: str,  # type: ignore[no-untyped-def]
                    country: str = "", language: str = "", segment=None, schedule=None,
                    partner=None, message=None, trigger: str = "",
                    occurred_at: datetime | None = None) -> Exposure:
    """Record one exposure (a holdout assignment counts too: arm.kind == "holdout")."""
    return Exposure.objects.create(
        organisation_id=campaign.organisation_id, campaign=campaign, arm=arm,
        schedule=schedule, segment=segment, partner=partner, message=message,
        source=ExposureSource(source), channel=channel, country=country, language=language,
        trigger=trigger, subject_key_id=subject.key_id, subject_pseudonym=subject.value,
        is_holdout=arm.kind == "holdout", occurred_at=occurred_at or timezone.now(),
    )
