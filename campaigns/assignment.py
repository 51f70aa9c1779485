"""Deterministic arm assignment: the one function scheduled sends and live interventions share.

Per-person design
    u = HMAC-SHA256(assignment_key, f"{campaign.assignment_seed}:{subject.value}"), first 8 bytes
    read big-endian and divided by 2**64, so u is uniform on [0, 1). Arms are ordered by pk and
    own consecutive slices of [0, 1) proportional to their weights (a holdout is just an arm of
    kind `holdout` with its weight). The same person always lands in the same arm, in every
    process and on every machine, because the key comes from the key ring, not from memory.

Namespaces (mutually exclusive campaigns)
    Campaigns that share `assignment_namespace` split the namespace's unit interval:
    v = HMAC-SHA256(key, f"namespace:{namespace}:{subject.value}") mapped to [0, 1) the same way,
    and a campaign only takes people with namespace_offset <= v < namespace_offset +
    namespace_share. Because v depends on the namespace and not on the campaign, and the slices
    are disjoint (the services refuse overlaps), nobody is in two campaigns of one namespace.
    Inside its slice a campaign still picks the arm from its own seed-based u, which is
    independent of v, so arm proportions are unchanged.

Time-rotated design (partners who cannot randomise per person)
    Everyone gets the same arm on a given day. The day index is the number of days since
    1970-01-01 in the organisation's time zone; the arms form a repeating schedule whose length
    is the sum of the weights reduced to smallest integers (45/45/10 -> 9/9/2, a 20-day cycle),
    interleaved with smooth weighted round-robin so the arms alternate instead of running in
    blocks.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from functools import reduce
from math import gcd, lcm
from zoneinfo import ZoneInfo

from django.conf import settings

from campaigns.models import Arm, AssignmentDesign, Campaign
from core.keys import pseudonym_ring
from core.pseudonyms import Pseudonym

ASSIGNMENT_KEY_ID = "assignment"
EPOCH = date(1970, 1, 1)
MAX_ROTATION_CYCLE = 1000  # days; longer weight ratios are approximated

_key_cache: dict[tuple[str, str | None], bytes] = {}


def assignment_key() -> bytes:
    """The assignment key from the pseudonym ring (cached: assignment runs on every request)."""
    cache_key = (str(settings.KEY_DIR), settings.PSEUDONYM_KEYS)
    key = _key_cache.get(cache_key)
    if key is None:
        key = pseudonym_ring().get(ASSIGNMENT_KEY_ID, create=True)
        _key_cache[cache_key] = key
    return key


def unit_interval(text: str, *, key: bytes | None = None) -> float:
    """HMAC-SHA256 of `text`, first 8 bytes as an integer divided by 2**64: a value in [0, 1)."""
    digest = hmac.new(key or assignment_key(), text.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assignment_unit_interval(*, campaign: Campaign, subject: Pseudonym) -> float:
    """The subject's position u in [0, 1) for this campaign's arms."""
    return unit_interval(f"{campaign.assignment_seed}:{subject.value}")


def namespace_unit_interval(*, namespace: str, subject: Pseudonym) -> float:
    """The subject's position v in [0, 1) within a namespace (shared by its campaigns)."""
    return unit_interval(f"namespace:{namespace}:{subject.value}")


def in_namespace_share(*, campaign: Campaign, subject: Pseudonym) -> bool:
    if not campaign.assignment_namespace:
        return True
    v = namespace_unit_interval(namespace=campaign.assignment_namespace, subject=subject)
    start = float(campaign.namespace_offset)
    return start <= v < start + float(campaign.namespace_share)


def ordered_arms(campaign: Campaign) -> list[Arm]:
    # Sorting in Python keeps a prefetched `arms` cache usable (no query per assignment); the
    # sorted list is kept beside that cache, as long-lived as it (the intervention snapshot).
    prefetched = getattr(campaign, "_prefetched_objects_cache", {})
    if "arms" not in prefetched:
        return sorted(campaign.arms.all(), key=lambda arm: arm.pk)
    if "ordered_arms" not in prefetched:
        prefetched["ordered_arms"] = sorted(prefetched["arms"], key=lambda arm: arm.pk)
    return prefetched["ordered_arms"]


def arm_for_unit(arms: Sequence[Arm], u: float) -> Arm | None:
    """The arm whose cumulative-weight slice of [0, 1) contains u."""
    weights = [max(Decimal(arm.weight), Decimal(0)) for arm in arms]
    total = sum(weights, Decimal(0))
    if total <= 0:
        return None
    cumulative = Decimal(0)
    target = Decimal(u) * total
    for arm, weight in zip(arms, weights, strict=True):
        cumulative += weight
        if weight > 0 and target < cumulative:
            return arm
    return next(arm for arm, weight in zip(arms, weights, strict=True) if weight > 0)


def integer_weights(weights: Sequence[Decimal]) -> list[int]:
    """Weights reduced to the smallest integers in the same ratio (45:45:10 -> 9:9:2)."""
    total = sum((Fraction(w) for w in weights), Fraction(0))
    shares = [Fraction(w) / total for w in weights]
    denominator = reduce(lcm, (share.denominator for share in shares), 1)
    if denominator > MAX_ROTATION_CYCLE:
        shares = [share.limit_denominator(MAX_ROTATION_CYCLE // max(len(shares), 1))
                  for share in shares]
        denominator = reduce(lcm, (share.denominator for share in shares), 1)
    counts = [int(share * denominator) for share in shares]
    divisor = reduce(gcd, counts, 0) or 1
    return [count // divisor for count in counts]


def rotation_schedule(arms: Sequence[Arm]) -> list[Arm]:
    """One cycle of the daily rotation: smooth weighted round-robin over integer weights."""
    live = [arm for arm in arms if Decimal(arm.weight) > 0]
    if not live:
        return []
    counts = integer_weights([Decimal(arm.weight) for arm in live])
    total = sum(counts)
    current = [0] * len(live)
    cycle: list[Arm] = []
    for _ in range(total):
        current = [c + w for c, w in zip(current, counts, strict=True)]
        best = max(range(len(live)), key=lambda i: (current[i], -i))
        current[best] -= total
        cycle.append(live[best])
    return cycle


def day_index(*, campaign: Campaign, at: datetime) -> int:
    """Days since 1970-01-01 in the organisation's time zone."""
    zone = ZoneInfo(campaign.organisation.time_zone or "UTC")
    return (at.astimezone(zone).date() - EPOCH).days


def rotated_arm(*, campaign: Campaign, at: datetime) -> Arm | None:
    cycle = rotation_schedule(ordered_arms(campaign))
    if not cycle:
        return None
    return cycle[day_index(campaign=campaign, at=at) % len(cycle)]


def assign_arm(*, campaign: Campaign, subject: Pseudonym, at: datetime) -> Arm | None:
    """The arm this subject gets in this campaign at `at`, or None.

    None means the subject is outside the campaign's namespace share (they belong to another
    campaign of the namespace), or the campaign has no arm with a positive weight. A holdout
    arm is returned like any other: the caller records the exposure and shows nothing.
    """
    if not in_namespace_share(campaign=campaign, subject=subject):
        return None
    if campaign.design == AssignmentDesign.TIME_ROTATED:
        return rotated_arm(campaign=campaign, at=at)
    u = assignment_unit_interval(campaign=campaign, subject=subject)
    return arm_for_unit(ordered_arms(campaign), u)
