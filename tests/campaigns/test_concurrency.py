"""Two concurrent transitions on one campaign: exactly one wins (PostgreSQL row locking)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from campaigns import lifecycle
from campaigns.models import Campaign
from core.errors import Conflict
from organisations.models import AuditEvent
from organisations.services import Actor
from tests.campaigns.factories import CampaignFactory
from tests.factories import OrganisationFactory


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_submits_cannot_both_win(postgres) -> None:
    campaign = CampaignFactory(organisation=OrganisationFactory())
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def submit() -> None:
        try:
            copy = Campaign.objects.get(pk=campaign.pk)  # both read "draft"
            barrier.wait(timeout=10)
            lifecycle.campaign_submit(campaign=copy, actor=Actor.system())
            outcomes.append("won")
        except Conflict as error:
            outcomes.append(f"refused:{error.details['current_state']}")
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["refused:in_review", "won"]
    assert AuditEvent.objects.filter(action="campaign.submit",
                                     object_id=str(campaign.pk)).count() == 1
