"""Delivery progress: the states and their total are one disclosure table."""

from __future__ import annotations

from types import SimpleNamespace

from core.disclosure import DisclosurePolicy
from delivery.models import DeliveryState
from delivery.selectors import Progress
from tests.test_disclosure_attacks import attack


def test_a_small_state_cannot_be_worked_out_from_the_total_and_the_others() -> None:
    # 100 delivered + 9 failed = 109, published as 110 beside 100: failed would be 6..9.
    progress = Progress(campaign=SimpleNamespace(pk=1, status="running"),  # type: ignore[arg-type]
                        counts={DeliveryState.DELIVERED: 100, DeliveryState.FAILED: 9},
                        failure_reasons=[("bounced", 9)], retries=0)
    shown = progress.disclosed()
    displays = {s: shown["counts"][s] for s in DeliveryState.values}
    displays["total"] = shown["total"]
    assert displays[DeliveryState.FAILED] == "<10"
    low, high = attack(displays, [("total", list(DeliveryState.values))],
                       DisclosurePolicy())[DeliveryState.FAILED]
    assert low <= 1 and high >= 9
    assert shown["done_percent"] is None
