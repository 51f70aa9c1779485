"""The differencing guard of segment previews: the recent released member sets, per
organisation, and the refusal of a preview that differs from one of them by a few people.

A preview's count (admin rule editor, the segment page, ``GET /api/v1/segments/<id>/preview``)
is disclosed by ``core.disclosure.disclose_count`` (small ones hidden, others rounded), and
before that compared with the sets released in the last ``WINDOW``: a set within 1 to
threshold-1 people of one of them is refused (``core.disclosure.differencing``). What is kept
is a fixed-size sketch per released set (never the members), in the cache, at most
``KEEP`` per organisation; concurrent previews may both be answered (the log is read and
written without a lock), which lets through at most one pair per race.
"""

from __future__ import annotations

import time

from django.core.cache import cache

from core.disclosure import DisclosedCell, DisclosurePolicy, disclose_count
from core.disclosure.differencing import MemberSketch, differs_by_few

WINDOW = 90 * 24 * 3600  # seconds a released set is remembered
KEEP = 500  # released sets remembered per organisation (newest kept)
REFUSED = "refused"
REFUSED_DISPLAY = "refused: within {n} people of a recent preview"


def _key(organisation_id: int) -> str:
    return f"segments:preview-releases:{organisation_id}"


def _recent(organisation_id: int, now: float) -> list[tuple[float, bytes]]:
    entries = cache.get(_key(organisation_id)) or []
    return [(at, data) for at, data in entries if now - at < WINDOW]


def disclosed_preview_count(*, organisation_id: int, members: list[int],
                            policy: DisclosurePolicy | None = None) -> DisclosedCell:
    """The count of ``members`` as it may be shown, or a refusal (value None, suppressed,
    reason "refused") when the set is within threshold-1 people of a recent released one."""
    policy = policy or DisclosurePolicy()
    now = time.time()
    sketch = MemberSketch.of(members)
    recent = _recent(organisation_id, now)
    if policy.enabled and differs_by_few(
            sketch, [MemberSketch.from_bytes(data) for _, data in recent], policy.threshold):
        return DisclosedCell(None, REFUSED_DISPLAY.format(n=policy.threshold - 1), True,
                             REFUSED)
    entry = (now, sketch.to_bytes())
    kept = [*[e for e in recent if e[1] != entry[1]][-(KEEP - 1):], entry]
    cache.set(_key(organisation_id), kept, timeout=WINDOW)
    return disclose_count(len(set(members)), policy)
