from __future__ import annotations

import pytest

from tests.interventions.caches import interventions_caches_fresh


@pytest.fixture(autouse=True)
def _fresh_caches(settings):  # type: ignore[no-untyped-def]
    yield from interventions_caches_fresh(settings)
