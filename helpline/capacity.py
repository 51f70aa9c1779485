"""Capacity, the queue's honest wait estimate, and the pacing model. Pure functions first.

Capacity = counsellors online (heartbeat within PRESENCE_SECONDS) x chats each. The helpline
accepts a new conversation only while its directory hours say open, someone is online, and
fewer than `queue_limit` people are waiting beyond the free slots.

Estimated wait for queue position p (1 = next): with f free slots, p <= f is "a counsellor
will answer shortly" (0). Otherwise (p - f) chats must end first; with capacity c and a mean
chat length D (measured over the last 14 days of answered chats, 20 minutes until there are
10), chats end at about c / D per minute, so the wait is about (p - f) x D / c. Shown rounded
up to 5 minutes and labelled an estimate; None (we cannot say) when nobody is online.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PRESENCE_SECONDS = 90
DEFAULT_CHAT_MINUTES = 20.0
MIN_DURATIONS_FOR_MEAN = 10


@dataclass(frozen=True)
class Capacity:
    open_now: bool | None  # from the directory's structured hours (None: hours unknown)
    online: int
    chats_each: int
    active: int
    waiting: int
    queue_limit: int
    mean_chat_minutes: float = DEFAULT_CHAT_MINUTES

    @property
    def slots(self) -> int:
        return self.online * self.chats_each

    @property
    def free(self) -> int:
        return max(0, self.slots - self.active)

    @property
    def accepting(self) -> bool:
        """Open, staffed, and the queue beyond the free slots is not full."""
        if self.open_now is not True or self.slots == 0:
            return False
        return max(0, self.waiting - self.free) < self.queue_limit

    @property
    def reason(self) -> str:
        if self.open_now is not True:
            return "closed"
        if self.slots == 0:
            return "no_counsellors"
        return "open" if self.accepting else "full"

    @property
    def chat_free_now(self) -> bool:
        """What the web component asks: offer chat only with a free slot nobody is queued for."""
        return self.open_now is True and self.free > self.waiting


def estimated_wait_minutes(*, position: int, capacity: Capacity) -> int | None:
    if capacity.slots == 0:
        return None
    ahead_beyond_free = position - capacity.free
    if ahead_beyond_free <= 0:
        return 0
    minutes = ahead_beyond_free * capacity.mean_chat_minutes / capacity.slots
    return int(5 * math.ceil(minutes / 5))


# --- capacity-aware pacing ---------------------------------------------------------------------

TARGET_UTILISATION = 0.8


@dataclass(frozen=True)
class PacingInput:
    """One paced campaign's evidence: its exposures so far and the chats they led to."""

    campaign_id: int
    exposures: int
    contacts: int
    prior_rate: float
    prior_weight: int


def contact_rate(item: PacingInput) -> float:
    """Chats per exposure: the prior (as prior_weight pseudo-exposures) plus the campaign's own
    evidence, i.e. the posterior mean of a Beta prior. It moves to the measured rate as
    exposures accumulate and never reaches 0 (a 0 would allow unlimited sends)."""
    return (item.contacts + item.prior_rate * item.prior_weight) / \
        (item.exposures + item.prior_weight)


def arrival_budget_per_hour(*, capacity: Capacity, other_arrivals_per_hour: float) -> float:
    """New chats per hour the helpline can take from paced campaigns right now.

    Service rate = slots x 60 / D chats per hour; keep a margin (TARGET_UTILISATION) and leave
    room for arrivals that do not come from paced campaigns (measured over the last hour).
    Closed or unstaffed: 0. The queue beyond free slots also eats into the budget.
    """
    if capacity.open_now is not True or capacity.slots == 0:
        return 0.0
    service_per_hour = capacity.slots * 60.0 / capacity.mean_chat_minutes
    queued = max(0, capacity.waiting - capacity.free)
    return max(0.0, service_per_hour * TARGET_UTILISATION - other_arrivals_per_hour - queued)


def send_rates_per_hour(*, capacity: Capacity, other_arrivals_per_hour: float,
                        campaigns: list[PacingInput]) -> dict[int, float]:
    """Sends per hour for each paced campaign: an equal share of the arrival budget divided by
    the campaign's contact rate, so sends x rate stays within free capacity."""
    if not campaigns:
        return {}
    budget = arrival_budget_per_hour(capacity=capacity,
                                     other_arrivals_per_hour=other_arrivals_per_hour)
    share = budget / len(campaigns)
    return {item.campaign_id: share / contact_rate(item) for item in campaigns}
