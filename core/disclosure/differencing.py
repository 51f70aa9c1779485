"""Differencing between overlapping groups counted one after another (segment previews).

Two previews of rules whose member sets differ by one person publish, between them, whether
that person matches: "country = DE" then "country = DE and not (id of one person)". Rounding
does not stop it (12 and 13 round to 10 and 15). The rule here: a count is refused when its
member set differs from the set of a recent released count by 1 to ``threshold - 1`` people
(the symmetric difference: people added, removed or swapped). The same set again is
answered (the same figure reveals nothing new); sets that differ by at least the threshold
are answered as usual (rounded, small ones hidden).

Each released set is remembered as an invertible Bloom lookup table (Goodrich and
Mitzenmacher 2011), a few kilobytes whatever the set's size: subtracting two tables and
peeling it recovers the symmetric difference exactly when it is small, and fails (meaning
"large") when it is not. With ``CELLS`` cells and four hash functions a difference of up to
``threshold - 1 = 9`` people is recovered with overwhelming probability (tests measure it);
a failure to recover a small difference would answer a count that should be refused, so the
table is sized at about 28 times the largest difference it must find (6 kB).

Pure functions over bytes: the caller keeps the recent tables (segments keeps them in the
cache, per organisation, with a time limit and a cap). Limits, stated for the data-protection
officer: the log is per organisation and time-limited (``segments.previews``), so a reader
who waits out the window, or who compares against a count released by another route, is not
stopped by this rule; counts of sets that differ by ``threshold`` or more are not refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

CELLS = 256  # four sub-tables of 64 cells
HASHES = 4
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 of ``x`` with a seed: a fixed, well-spread 64-bit hash (not a secret)."""
    with np.errstate(over="ignore"):
        z = (x + np.uint64(0x9E3779B97F4A7C15) * np.uint64(seed + 1)) & _MASK
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return z ^ (z >> np.uint64(31))


@dataclass(frozen=True)
class MemberSketch:
    """The invertible Bloom lookup table of one member set, and the set's size."""

    size: int
    counts: np.ndarray  # int64[CELLS]
    id_xor: np.ndarray  # uint64[CELLS]
    hash_xor: np.ndarray  # uint64[CELLS]

    @classmethod
    def of(cls, members: Iterable[int]) -> MemberSketch:
        ids = np.unique(np.fromiter((int(m) for m in members), dtype=np.uint64))
        counts = np.zeros(CELLS, dtype=np.int64)
        id_xor = np.zeros(CELLS, dtype=np.uint64)
        hash_xor = np.zeros(CELLS, dtype=np.uint64)
        checks = _mix(ids, 99)
        for cell in _cells(ids):
            np.add.at(counts, cell, 1)
            np.bitwise_xor.at(id_xor, cell, ids)
            np.bitwise_xor.at(hash_xor, cell, checks)
        return cls(len(ids), counts, id_xor, hash_xor)

    def to_bytes(self) -> bytes:
        return (np.int64(self.size).tobytes() + self.counts.tobytes() + self.id_xor.tobytes()
                + self.hash_xor.tobytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> MemberSketch:
        size = int(np.frombuffer(data[:8], dtype=np.int64)[0])
        rest = data[8:]
        step = CELLS * 8
        return cls(size, np.frombuffer(rest[:step], dtype=np.int64).copy(),
                   np.frombuffer(rest[step:2 * step], dtype=np.uint64).copy(),
                   np.frombuffer(rest[2 * step:3 * step], dtype=np.uint64).copy())


def _cells(ids: np.ndarray) -> list[np.ndarray]:
    part = CELLS // HASHES
    return [(_mix(ids, h) % np.uint64(part)).astype(np.int64) + h * part for h in range(HASHES)]


def difference_size(a: MemberSketch, b: MemberSketch, limit: int) -> int | None:
    """How many people are in exactly one of the two sets, when that is below ``limit``;
    None when it is ``limit`` or more (or too large to recover, which means large)."""
    if abs(a.size - b.size) >= limit:
        return None
    counts = a.counts - b.counts
    id_xor = a.id_xor ^ b.id_xor
    hash_xor = a.hash_xor ^ b.hash_xor
    found = 0
    progress = True
    while progress:
        progress = False
        for i in np.flatnonzero(np.abs(counts) == 1):
            if abs(counts[i]) != 1:
                continue
            member = id_xor[i:i + 1].copy()
            check = _mix(member, 99)[0]
            if check != hash_xor[i]:
                continue
            sign = counts[i]
            for cell in _cells(member):
                j = int(cell[0])
                counts[j] -= sign
                id_xor[j] ^= member[0]
                hash_xor[j] ^= check
            found += 1
            progress = True
            if found >= limit:
                return None
    if counts.any() or id_xor.any() or hash_xor.any():
        return None  # not peeled to empty: the difference is large
    return found


def differs_by_few(sketch: MemberSketch, recent: Sequence[MemberSketch], threshold: int
                   ) -> bool:
    """Whether the set differs from one of the ``recent`` ones by 1 to threshold-1 people."""
    for previous in recent:
        size = difference_size(sketch, previous, threshold)
        if size is not None and 0 < size < threshold:
            return True
    return False
