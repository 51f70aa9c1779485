"""In-process memos (the hot paths' caches), refreshed by one thread at a time.

A memo entry older than its lifetime is reloaded by the first thread that notices, while the
process's other threads go on answering with the old value for the few milliseconds the reload
takes. Without this every thread of every web process reloaded the partner snapshot, the
directory and the API key at the same instant each lifetime, and those stampedes were the
endpoint's tail latency (its p99 at half load was 50-140 ms with them, about 20 ms without).
A value is never served more than one reload's duration past its lifetime; nothing is
remembered when the loader returns None or raises (box a None that should be remembered).

The one cache policy (docs/architecture.md, "Caches"): an entry either lives a short lifetime
(data that can change: INTERVENTIONS_SNAPSHOT_SECONDS, 5 s) or has a key that names the
version of what it holds (an updated_at, a digest, the settings it was built from) and then
lives FOREVER: it cannot go stale, only be evicted. Either way the memo is bounded: when it
holds max_entries it is emptied whole, the one eviction rule.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")

FOREVER = math.inf  # the lifetime of an entry whose key names its version


class Memo(Generic[T]):
    def __init__(self, *, max_entries: int = 10_000) -> None:
        self._entries: dict[Hashable, tuple[float, T]] = {}
        self._refreshing: set[Hashable] = set()
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def get(self, key: Hashable, load: Callable[[], T | None], *, seconds: float) -> T | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        if entry is not None and not self._claim(key):
            return entry[1]  # another thread is reloading it: the old value meanwhile
        try:
            value = load()
            if value is not None:
                self._store(key, value, seconds)
            return value
        finally:
            if entry is not None:
                with self._lock:
                    self._refreshing.discard(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _claim(self, key: Hashable) -> bool:
        with self._lock:
            if key in self._refreshing:
                return False
            self._refreshing.add(key)
            return True

    def _store(self, key: Hashable, value: T, seconds: float) -> None:
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + seconds, value)
