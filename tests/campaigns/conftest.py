"""A campaign a manager has built end to end (tests.campaigns.factories.build_campaign)."""

from __future__ import annotations

import pytest

from tests.campaigns.factories import Built, build_campaign


@pytest.fixture
def built(tenant) -> Built:  # type: ignore[no-untyped-def]
    return build_campaign(tenant)
