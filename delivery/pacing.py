"""Per-campaign pacing: a second token bucket for campaigns with a PacingLimit row.

A higher layer writes `PacingLimit` (sends per hour, with an expiry); the send loop takes
tokens from `outreach:pace:<campaign>` as well as from the channel's bucket. An expired row
means the writer stopped: the campaign is held (rate 0) rather than sent unpaced, because a
campaign that chose pacing chose to protect what it signposts. Rows are re-read at most every
PACING_CACHE_SECONDS per process.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from core.memo import Memo
from delivery.models import PacingLimit

PACING_CACHE_SECONDS = 5.0
HELD_RATE = 1.0 / 600  # "held": a token every 10 minutes, so rows come back to look again
_limits: Memo[tuple[float | None]] = Memo(max_entries=10_000)


@dataclass(frozen=True)
class PaceBucket:
    campaign_id: int
    rate: float  # sends per second
    burst: int

    @property
    def key(self) -> str:
        return f"outreach:pace:{self.campaign_id}"


def sends_per_hour(campaign_id: int) -> float | None:
    """The campaign's ceiling (0 when held or stale), or None when it is not paced."""
    boxed = _limits.get(campaign_id, lambda: (_sends_per_hour(campaign_id),),
                        seconds=PACING_CACHE_SECONDS)
    assert boxed is not None
    return boxed[0]


def _sends_per_hour(campaign_id: int) -> float | None:
    row = PacingLimit.objects.filter(campaign_id=campaign_id).first()
    if row is None:
        return None
    return row.sends_per_hour if row.expires_at > timezone.now() else 0.0


def bucket_for(campaign_id: int) -> PaceBucket | None:
    per_hour = sends_per_hour(campaign_id)
    if per_hour is None:
        return None
    rate = max(per_hour / 3600.0, HELD_RATE)
    return PaceBucket(campaign_id=campaign_id, rate=rate, burst=max(1, int(per_hour / 60)))


def cache_clear() -> None:
    _limits.clear()
