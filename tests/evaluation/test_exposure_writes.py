import pytest

from core.pseudonyms import pseudonymise
from evaluation.models import Exposure
from evaluation.services import exposure_record, exposures_record_many
from tests.campaigns.factories import build_campaign

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


def test_a_flush_written_again_counts_once_and_keeps_every_field(tenant):
    import uuid

    campaign = build_campaign(tenant).campaign
    arm = campaign.arms.order_by("pk").first()
    schedule_id = None
    ids = [uuid.uuid4() for _ in range(3)]
    records = [{"campaign": campaign, "arm": arm, "source": "delivery", "channel": "sms",
                "country": "GB", "language": "en", "subject": pseudonymise(f"r{n}", purpose="t"),
                "exposure_id": ids[n]} for n in range(3)]
    assert exposures_record_many(records) == ids
    assert exposures_record_many(records[1:]) == ids[1:]  # a re-sent flush
    stored = Exposure.objects.filter(campaign=campaign).order_by("subject_pseudonym")
    assert stored.count() == 3
    first = Exposure.objects.get(pk=ids[0])
    assert (first.source, first.channel, first.country, first.language, first.schedule_id) == (
        "delivery", "sms", "GB", "en", schedule_id)
    assert first.subject_pseudonym == records[0]["subject"].value
