"""The policy (threshold, rounding) and the published cell: the words of core.disclosure."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

COMPLEMENTARY_SYMBOL = "[c]"
SMALL = "small"
COMPLEMENTARY = "complementary"

Key = Hashable
Position = tuple[int, int]


@dataclass(frozen=True)
class DisclosurePolicy:
    threshold: int = 10
    rounding_base: int = 5
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError(f"threshold must be at least 1, got {self.threshold}")
        if self.rounding_base < 1:
            raise ValueError(f"rounding_base must be at least 1, got {self.rounding_base}")

    def validate(self, production: bool) -> None:
        """Refuse a disabled policy in production: disclosure control is not optional there."""
        if production and not self.enabled:
            raise ValueError("disclosure control may not be disabled in production")

    @property
    def small_symbol(self) -> str:
        return f"<{self.threshold}"

    def rounded(self, n: int) -> int:
        """The published value of a count that is not suppressed (0 stays 0)."""
        if n == 0:
            return 0
        base = self.rounding_base
        return max(base, ((n + base // 2) // base) * base)  # halves up; never shown as 0

    def rounding_interval(self, shown: int) -> tuple[int, int]:
        """What a reader knows of a count published (rounded) as ``shown``."""
        if shown == 0:
            return 0, 0
        low = shown - self.rounding_base // 2
        return max(low, self.threshold, 1), low + self.rounding_base - 1


@dataclass(frozen=True)
class DisclosedCell:
    """A publishable figure. ``value`` is None when suppressed; then hide rates and CIs."""

    value: int | None
    display: str
    suppressed: bool
    reason: str = ""  # "", "small" (primary) or "complementary" (secondary)



def check_count(value: int) -> None:
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ValueError(f"counts must be non-negative integers, got {value!r}")
