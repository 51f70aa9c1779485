"""Wire every app's `seed_demo` into one story: directory → segments → campaign → sends →
live interventions → evaluation. Each step prints one line for the newcomer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def seed_capabilities(demo: dict[str, Any]) -> Iterator[str]:
    from directory.demo import seed_demo as seed_directory

    report = seed_directory(organisation=demo["programme"])
    yield f"Directory: {report}"
