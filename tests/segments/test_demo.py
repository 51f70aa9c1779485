from __future__ import annotations

from datetime import UTC, datetime

import pytest

from segments.demo import seed_demo
from segments.models import Recipient
from segments.selectors import contact_for, segment_audience

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_consented_recipients_and_working_segments(tenant) -> None:
    first = seed_demo(organisation=tenant.organisation)
    again = seed_demo(organisation=tenant.organisation)
    assert (first["recipients_created"], again["recipients_created"]) == (50, 0)
    assert Recipient.objects.filter(organisation=tenant.organisation).count() == 50
    probation = next(s for s in again["segments"] if s.stage == "offender")
    assert probation.status == "ready"
    audience = list(segment_audience(segment=probation, channel="email",
                                     now=datetime.now(tz=UTC)))
    assert 0 < len(audience) < 50
    assert contact_for(recipient=audience[0], channel="email").endswith("@example.org")
