"""Reads of the evidence log, always scoped to an organisation."""

from __future__ import annotations

from datetime import datetime

from evaluation.models import Exposure
from outreach.pseudonyms import Pseudonym


def exposures_for_subject_since(*, organisation, subject: Pseudonym, since: datetime,  # type: ignore[no-untyped-def]
                                channel: str | None = None) -> int:
    """How many (non-holdout) exposures a person had since a moment: the frequency cap's input."""
    exposures = Exposure.objects.filter(
        organisation=organisation, subject_key_id=subject.key_id,
        subject_pseudonym=subject.value, occurred_at__gte=since, is_holdout=False)
    if channel:
        exposures = exposures.filter(channel=channel)
    return exposures.count()
