"""Shared set-up for the segments benchmarks: a throw-away PostgreSQL test database."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outreach.settings")

import django

django.setup()

from django.db import connection  # noqa: E402


@contextmanager
def scratch_database():
    """Create test_<name>, migrate it, and drop it afterwards (the real data is never used)."""
    if connection.vendor != "postgresql":
        print("These benchmarks target PostgreSQL: set DATABASE_URL=postgres://… "
              f"(running on {connection.vendor} instead; figures are not comparable)")
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def timed(function: Callable[[], object], *, repeat: int = 1) -> tuple[float, object]:
    """Median seconds over `repeat` runs, and the last result."""
    durations, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations), result


def table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for number, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if number == 0:
            print("  ".join("-" * width for width in widths))
