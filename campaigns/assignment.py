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

import bisect
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from functools import reduce
from math import gcd, lcm
from zoneinfo import ZoneInfo

from django.conf import settings

from campaigns.models import Arm, AssignmentDesign, Campaign
from core.keys import pseudonym_ring
from core.memo import FOREVER, Memo
from core.pseudonyms import Pseudonym

ASSIGNMENT_KEY_ID = "assignment"
EPOCH = date(1970, 1, 1)
MAX_ROTATION_CYCLE = 1000  # days; longer weight ratios are approximated

# Keyed by the settings the key is read from: FOREVER (the assignment key is never rotated).
_keys: Memo[bytes] = Memo(max_entries=16)


def assignment_key() -> bytes:
    """The assignment key from the pseudonym ring (cached: assignment runs on every request)."""
    key = _keys.get((str(settings.KEY_DIR), settings.PSEUDONYM_KEYS),
                    lambda: pseudonym_ring().get(ASSIGNMENT_KEY_ID, create=True),
                    seconds=FOREVER)
    assert key is not None
    return key


def unit_interval(text: str, *, key: bytes | None = None) -> float:
    """HMAC-SHA256 of `text`, first 8 bytes as an integer divided by 2**64: a value in [0, 1)."""
    return _position(key or assignment_key(), text.encode())


def _position(key: bytes, message: bytes) -> float:
    # The one hash of assignment (unit_interval and the batch assigner both call it).
    return int.from_bytes(hmac.digest(key, message, "sha256")[:8], "big") / 2**64


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
    """The campaign's arms in pk order (from a prefetched `arms` when there is one)."""
    return sorted(campaign.arms.all(), key=lambda arm: arm.pk)


class ArmSlices:
    """Arms as consecutive slices of [0, 1) proportional to their weights: the core that the
    single (`assign_arm`) and the batch (`arm_assigner`) forms share."""

    def __init__(self, arms: Sequence[Arm]) -> None:
        self.live = [arm for arm in arms if Decimal(arm.weight) > 0]
        self.bounds: list[Decimal] = []
        total = Decimal(0)
        for arm in self.live:
            total += Decimal(arm.weight)
            self.bounds.append(total)
        self.total = total

    def arm_at(self, u: float) -> Arm | None:
        """The arm whose cumulative-weight slice contains u (exact Decimal arithmetic)."""
        if not self.live:
            return None
        index = bisect.bisect_right(self.bounds, Decimal(u) * self.total)
        return self.live[index] if index < len(self.live) else self.live[0]


def arm_for_unit(arms: Sequence[Arm], u: float) -> Arm | None:
    """The arm whose cumulative-weight slice of [0, 1) contains u."""
    return ArmSlices(arms).arm_at(u)


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


@dataclass(frozen=True)
class CampaignArms:
    """A campaign's arms worked out once: in pk order, as weighted slices, as a rotation.

    Our own snapshot of what every assignment of the campaign reads (the interventions'
    partner snapshot holds one per campaign), so nothing rides on the model instance.
    """

    arms: tuple[Arm, ...]
    slices: ArmSlices
    rotation: tuple[Arm, ...]  # one cycle of the daily rotation (time-rotated designs only)


def campaign_arms(campaign: Campaign) -> CampaignArms:
    """The CampaignArms of a campaign (reads its arms once, or its prefetched `arms`)."""
    arms = tuple(ordered_arms(campaign))
    rotated = campaign.design == AssignmentDesign.TIME_ROTATED
    return CampaignArms(arms=arms, slices=ArmSlices(arms),
                        rotation=tuple(rotation_schedule(arms)) if rotated else ())


def day_index(*, campaign: Campaign, at: datetime) -> int:
    """Days since 1970-01-01 in the organisation's time zone."""
    zone = ZoneInfo(campaign.organisation.time_zone or "UTC")
    return (at.astimezone(zone).date() - EPOCH).days


def rotated_arm(*, campaign: Campaign, at: datetime,
                arms: CampaignArms | None = None) -> Arm | None:
    cycle = (arms or campaign_arms(campaign)).rotation
    if not cycle:
        return None
    return cycle[day_index(campaign=campaign, at=at) % len(cycle)]


def assign_arm(*, campaign: Campaign, subject: Pseudonym, at: datetime,
               arms: CampaignArms | None = None) -> Arm | None:
    """The arm this subject gets in this campaign at `at`, or None.

    None means the subject is outside the campaign's namespace share (they belong to another
    campaign of the namespace), or the campaign has no arm with a positive weight. A holdout
    arm is returned like any other: the caller records the exposure and shows nothing.
    `arms`: the campaign's CampaignArms when the caller holds them (the hot path's snapshot).
    """
    return arm_assigner(campaign=campaign, at=at, arms=arms)(subject)


def arm_assigner(*, campaign: Campaign, at: datetime,
                 arms: CampaignArms | None = None) -> Callable[[Pseudonym], Arm | None]:
    """`assign_arm` for many subjects of one campaign at one moment (a fan-out's audience): the
    same answers, with the per-campaign work (sorting arms, weight sums, the day's rotation,
    the key) done once instead of once per person."""
    arms = arms or campaign_arms(campaign)
    if campaign.design == AssignmentDesign.TIME_ROTATED:
        todays = rotated_arm(campaign=campaign, at=at, arms=arms)
        return lambda subject: (todays if in_namespace_share(campaign=campaign, subject=subject)
                                else None)
    slices = arms.slices
    key = assignment_key()
    prefix = f"{campaign.assignment_seed}:".encode()
    namespaced = bool(campaign.assignment_namespace)

    def assign(subject: Pseudonym) -> Arm | None:
        if namespaced and not in_namespace_share(campaign=campaign, subject=subject):
            return None
        # `assignment_unit_interval`, without re-encoding the seed every time.
        return slices.arm_at(_position(key, prefix + subject.value.encode()))

    return assign
