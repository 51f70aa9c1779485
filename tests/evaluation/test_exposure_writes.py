import pytest

from evaluation.models import Exposure
from evaluation.services import exposure_record, exposures_record_many
from outreach.pseudonyms import pseudonymise
from tests.campaigns.conftest import build_campaign

pytestmark = pytest.mark.django_db


def test_many_exposures_are_written_like_single_ones(tenant):
    campaign = build_campaign(tenant).campaign
    arms = list(campaign.arms.order_by("pk"))
    records = [{"campaign": campaign, "arm": arm, "source": "delivery", "channel": "email",
                "country": "GB", "subject": pseudonymise(f"r{n}", purpose="test")}
               for n, arm in enumerate(arms)]
    exposures_record_many(records)
    single = exposure_record(**records[0])
    stored = Exposure.objects.filter(campaign=campaign)
    assert stored.count() == len(arms) + 1
    holdouts = {e.is_holdout for e in stored if e.arm.kind == "holdout"}
    assert holdouts == {True}
    assert stored.get(pk=single.pk).subject_pseudonym == records[0]["subject"].value
