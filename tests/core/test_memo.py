"""The hot path's in-process memo: one reload per expiry, old value meanwhile, nothing bad kept."""

from __future__ import annotations

import threading
import time

import pytest

from core.memo import Memo


def test_a_fresh_value_is_served_without_reloading():
    memo: Memo[str] = Memo()
    loads = []
    for _ in range(3):
        assert memo.get("k", lambda: loads.append(1) or "v", seconds=60) == "v"
    assert len(loads) == 1


def test_an_expired_value_is_reloaded_by_one_thread_while_the_others_keep_the_old_one():
    memo: Memo[str] = Memo()
    memo.get("k", lambda: "old", seconds=0.0)
    release = threading.Event()
    loads: list[int] = []

    def slow_load() -> str:
        loads.append(1)
        release.wait(5)
        return "new"

    answers: list[str | None] = []
    threads = [threading.Thread(target=lambda: answers.append(memo.get("k", slow_load,
                                                                          seconds=60)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while len(answers) < 7 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert answers == ["old"] * 7  # served at once, without waiting for the reload
    release.set()
    for thread in threads:
        thread.join(5)
    assert sorted(answers) == ["new"] + ["old"] * 7
    assert len(loads) == 1  # no stampede
    assert memo.get("k", lambda: "unused", seconds=60) == "new"


def test_nothing_is_remembered_when_the_loader_returns_none_or_fails():
    memo: Memo[str] = Memo()
    assert memo.get("k", lambda: None, seconds=60) is None
    assert memo.get("k", lambda: "v", seconds=60) == "v"

    memo.get("x", lambda: "old", seconds=0.0)

    def broken() -> str:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        memo.get("x", broken, seconds=60)
    # The failed reload released its claim: the next caller reloads.
    assert memo.get("x", lambda: "fresh", seconds=60) == "fresh"


def test_clear_forgets_everything():
    memo: Memo[str] = Memo()
    memo.get("k", lambda: "v", seconds=60)
    memo.clear()
    assert memo.get("k", lambda: "w", seconds=60) == "w"
