"""The reader's linear programme and the choice of complementary suppressions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import linprog

from .policy import COMPLEMENTARY, SMALL, Key

if TYPE_CHECKING:
    from .table import Table, _Relation

_TOLERANCE = 1e-6


class Protector:
    """Primary suppression, then complements until the LP attacker is held off."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.policy = table.policy
        self.values = table._values
        self.keys = list(self.values)
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.components = _components(self.keys, table._relations)
        self.related = _neighbours(table._relations)
        self.latent = table._latent
        self._baselines: dict[Key, float] = {}
        self._latent_baselines: dict[Key, tuple[float, float]] = {}

    def protect(self) -> dict[Key, str]:
        t = self.policy.threshold
        status = {k: SMALL for k, v in self.values.items() if 0 < v < t and k not in self.latent}
        sensitive = sorted([*status, *(k for k in self.latent if 0 < self.values[k] < t)],
                           key=lambda k: self.index[k])
        while True:
            exact = self.table._revealed_exactly(status)
            unprotected = next((k for k in sensitive if not self._protected(k, status, exact)),
                               None)
            if unprotected is None:
                return status
            choice = self._complement_for(unprotected, status)
            if choice is None:  # nothing single helps: hide the whole component
                for k in self.components[unprotected]:
                    if self.values[k] > 0 and k not in status and k not in self.latent:
                        status[k] = COMPLEMENTARY
            else:
                status[choice] = COMPLEMENTARY

    # checks ---------------------------------------------------------------------------------

    def _protected(self, key: Key, status: Mapping[Key, str], exact: set[Key]) -> bool:
        """Whether the reader's interval for ``key`` is the whole protection interval.

        The interval always lies inside the baseline one (every non-zero count hidden,
        itself inside 1..threshold-1), so comparing widths is enough. A latent count has no
        symbol of its own (the reader knows only that it is >= 0), so its interval is solved
        at both ends and must reach from 1 (or below) to threshold-1 (or above)."""
        if key in self.latent:
            return self._latent_protected(key, status, exact)
        width = self.width(key, status, exact)
        if width >= self.policy.threshold - 2 - _TOLERANCE:
            return True
        if key not in self._baselines:
            self._baselines[key] = self.width(key, self._everything_hidden(), set())
        return width >= self._baselines[key] - _TOLERANCE

    def _everything_hidden(self) -> dict[Key, str]:
        return {k: (SMALL if 0 < v < self.policy.threshold else COMPLEMENTARY)
                for k, v in self.values.items() if v > 0 and k not in self.latent}

    def _latent_protected(self, key: Key, status: Mapping[Key, str], exact: set[Key]) -> bool:
        low, high = self.extremes(key, status, exact)
        wanted_low, wanted_high = 1.0, float(self.policy.threshold - 1)
        if low <= wanted_low + _TOLERANCE and high >= wanted_high - _TOLERANCE:
            return True
        if key not in self._latent_baselines:
            self._latent_baselines[key] = self.extremes(key, self._everything_hidden(), set())
        base_low, base_high = self._latent_baselines[key]
        return (low <= max(wanted_low, base_low) + _TOLERANCE
                and high >= min(wanted_high, base_high) - _TOLERANCE)

    def _complement_for(self, key: Key, status: dict[Key, str]) -> Key | None:
        """The count to hide next for ``key``, cheapest first: one that protects it; else one
        that widens its interval most; else one that pairs up a line (a sum) with a single
        suppression in it, as classic suppression does; else any. None: nothing left."""
        candidates = [k for k in self.components[key]
                      if self.values[k] > 0 and k not in status and k not in self.latent]
        candidates.sort(key=lambda k: (self.table._costs[k], self.index[k]))
        near = self.related.get(key, set())
        close = [k for k in candidates if k in near]
        choice = self._best_of(key, status, close)
        if choice is None:
            choice = self._pairing(key, status, candidates)
        if choice is None:
            choice = self._best_of(key, status, [k for k in candidates if k not in near])
        return choice if choice is not None else next(iter(candidates), None)

    def _best_of(self, key: Key, status: dict[Key, str], candidates: list[Key]) -> Key | None:
        before = self.width(key, status, self.table._revealed_exactly(status))
        best: tuple[float, Key] | None = None
        for candidate in candidates:
            trial = {**status, candidate: COMPLEMENTARY}
            exact = self.table._revealed_exactly(trial)
            if self._protected(key, trial, exact):
                return candidate
            gain = self.width(key, trial, exact) - before
            if gain > _TOLERANCE and (best is None or gain > best[0] + _TOLERANCE):
                best = (gain, candidate)
        return None if best is None else best[1]

    def _pairing(self, key: Key, status: dict[Key, str], candidates: list[Key]) -> Key | None:
        lone = [r for r in self.table._relations
                if sum(m in status for m in (r.total, *r.parts)) == 1
                and r.total in self.components[key]]
        lone.sort(key=lambda r: key not in (r.total, *r.parts))
        for relation in lone:
            members = {relation.total, *relation.parts}
            for candidate in candidates:  # already cheapest first
                if candidate in members:
                    return candidate
        return None

    # the LP ---------------------------------------------------------------------------------

    def bounds(self, key: Key, status: Mapping[Key, str], exact: set[Key]
               ) -> tuple[float, float | None]:
        value, policy = self.values[key], self.policy
        if key in self.latent:  # >= 0; a zero is taken as known (the reader may know it)
            return (0, 0) if value == 0 else (0, None)
        reason = status.get(key)
        if reason == SMALL:
            return 1, policy.threshold - 1
        if reason == COMPLEMENTARY:
            return policy.threshold, None
        if key in exact or value == 0:
            return value, value
        return policy.rounding_interval(policy.rounded(value))

    def _system(self, key: Key, status: Mapping[Key, str], exact: set[Key]
                ) -> tuple[dict[Key, int], list, list[np.ndarray], list[np.ndarray]]:
        """The reader's constraints on ``key``'s component: bounds, sums, partial sums."""
        members = self.components[key]
        local = {k: i for i, k in enumerate(members)}
        bounds = [self.bounds(k, status, exact) for k in members]
        equal, upper = [], []
        for relation in self.table._relations:
            if relation.total not in local:
                continue
            row = np.zeros(len(members))
            row[local[relation.total]] = -1.0
            for part in relation.parts:
                row[local[part]] += 1.0
            (equal if relation.complete else upper).append(row)
        return local, bounds, equal, upper

    def width(self, key: Key, status: Mapping[Key, str], exact: set[Key]) -> float:
        """How wide an interval the reader can narrow ``key`` to (continuous relaxation).

        One LP over two independent copies of the reader's system, maximising the copies'
        difference in ``key``: max - min in one solve, half the calls of two."""
        size = len(self.components[key])
        if size == 1:  # a figure no sum links to anything: its own symbol is all there is
            low, high = self.bounds(key, status, exact)
            return math.inf if high is None else high - low
        local, bounds, equal, upper = self._system(key, status, exact)
        objective = np.zeros(2 * size)
        objective[local[key]], objective[size + local[key]] = -1.0, 1.0
        result = linprog(
            objective, A_ub=_doubled(upper, size), b_ub=np.zeros(2 * len(upper)) if upper
            else None, A_eq=_doubled(equal, size), b_eq=np.zeros(2 * len(equal)) if equal
            else None, bounds=bounds + bounds, method="highs")
        if result.status == 3:  # unbounded
            return math.inf
        if result.status != 0:  # infeasible cannot happen with the true values; be safe
            return 0.0
        return -float(result.fun)

    def extremes(self, key: Key, status: Mapping[Key, str], exact: set[Key]
                 ) -> tuple[float, float]:
        """The least and the greatest value the reader's system allows ``key`` (two LPs)."""
        local, bounds, equal, upper = self._system(key, status, exact)
        out = []
        for sign in (1.0, -1.0):
            objective = np.zeros(len(local))
            objective[local[key]] = sign
            result = linprog(
                objective, A_ub=np.array(upper) if upper else None,
                b_ub=np.zeros(len(upper)) if upper else None,
                A_eq=np.array(equal) if equal else None,
                b_eq=np.zeros(len(equal)) if equal else None, bounds=bounds, method="highs")
            if result.status == 3:
                out.append(-math.inf * sign)
            elif result.status != 0:
                out.append(float(self.values[key]))
            else:
                out.append(sign * float(result.fun))
        return out[0], out[1]


def _doubled(rows: list[np.ndarray], size: int) -> np.ndarray | None:
    if not rows:
        return None
    block = np.array(rows)
    zeros = np.zeros_like(block)
    return np.vstack([np.hstack([block, zeros]), np.hstack([zeros, block])])


def _components(keys: list[Key], relations: list[_Relation]) -> dict[Key, list[Key]]:
    parent = {k: k for k in keys}

    def root(k: Key) -> Key:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for relation in relations:
        for part in relation.parts:
            parent[root(part)] = root(relation.total)
    groups: dict[Key, list[Key]] = {}
    for k in keys:
        groups.setdefault(root(k), []).append(k)
    return {k: groups[root(k)] for k in keys}


def _neighbours(relations: list[_Relation]) -> dict[Key, set[Key]]:
    near: dict[Key, set[Key]] = {}
    for relation in relations:
        members = {relation.total, *relation.parts}
        for k in members:
            near.setdefault(k, set()).update(members - {k})
    return near
