"""Hardening tests drive the partner API: each gets the interventions caches reset, a world
(programme, campaign) and a helpline partner's outcomes key."""

from __future__ import annotations

import pytest

from organisations.models import ApiScope, Partnership
from tests.interventions import factories
from tests.interventions.caches import interventions_caches_fresh


@pytest.fixture(autouse=True)
def _fresh_caches(settings):  # type: ignore[no-untyped-def]
    yield from interventions_caches_fresh(settings)


@pytest.fixture
def world(postgres):  # type: ignore[no-untyped-def]
    return factories.world()


@pytest.fixture
def helpline(world):  # type: ignore[no-untyped-def]
    org = factories.OrganisationFactory(name="A Helpline", kind="helpline")
    Partnership.objects.create(programme=world.programme, partner=org, triggers=[])
    return factories.partner_key(org, ApiScope.OUTCOMES_WRITE)
