"""Capacity-aware pacing: the model over a simulated day, and the stored limit delivery reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from delivery import pacing as delivery_pacing
from delivery.models import PacingLimit
from helpline import capacity as cap
from helpline.models import PacedCampaign
from helpline.pacing import pacing_refresh
from tests.helpline.factories import helpline_world


def test_a_simulated_day_keeps_expected_arrivals_within_capacity_while_open():
    """09:00-21:00 open, two counsellors x two chats, 20-minute chats (service 12/h, budget
    9.6/h); the campaign's true contact rate (0.4%) is unknown to the model, whose prior (1%)
    errs high. Each hour: ceiling from the model, sends = ceiling (the backlog is large),
    expected chats = sends x true rate, and the evidence accumulates."""
    true_rate, exposures, contacts = 0.004, 0, 0.0
    service = 2 * 2 * 60 / 20
    hourly = []
    for hour in range(24):
        open_now = 9 <= hour < 21
        capacity = cap.Capacity(open_now=open_now, online=2 if open_now else 0, chats_each=2,
                                active=0, waiting=0, queue_limit=10, mean_chat_minutes=20)
        item = cap.PacingInput(campaign_id=1, exposures=exposures, contacts=round(contacts),
                               prior_rate=0.01, prior_weight=2000)
        sends = cap.send_rates_per_hour(capacity=capacity, other_arrivals_per_hour=1.0,
                                        campaigns=[item])[1]
        arrivals = sends * true_rate
        hourly.append((hour, sends, arrivals))
        exposures += int(sends)
        contacts += arrivals
    closed = [sends for hour, sends, _ in hourly if not 9 <= hour < 21]
    assert closed == [0.0] * 12  # nothing is sent into a closed helpline
    open_hours = [(sends, arrivals) for hour, sends, arrivals in hourly if 9 <= hour < 21]
    assert all(arrivals + 1.0 <= service for _, arrivals in open_hours)  # never over capacity
    # It learns: the first hour (prior-bound) sends least, later hours approach the budget.
    assert open_hours[0][0] < open_hours[-1][0]
    budget = 0.8 * service - 1.0
    assert 0.85 * budget <= open_hours[-1][1] <= budget  # the prior still weighs a little


def test_the_contact_rate_moves_from_the_prior_to_the_measured_rate():
    prior = cap.PacingInput(campaign_id=1, exposures=0, contacts=0, prior_rate=0.01,
                            prior_weight=1000)
    assert cap.contact_rate(prior) == pytest.approx(0.01)
    evidence = cap.PacingInput(campaign_id=1, exposures=1_000_000, contacts=3000,
                               prior_rate=0.01, prior_weight=1000)
    assert cap.contact_rate(evidence) == pytest.approx(0.003, rel=0.01)


def test_a_queue_beyond_the_free_slots_and_other_arrivals_eat_into_the_budget():
    full = cap.Capacity(open_now=True, online=2, chats_each=2, active=4, waiting=1,
                        queue_limit=10, mean_chat_minutes=20)
    assert cap.arrival_budget_per_hour(capacity=full, other_arrivals_per_hour=2) == \
        pytest.approx(0.8 * 12 - 2 - 1)
    assert cap.arrival_budget_per_hour(capacity=full, other_arrivals_per_hour=50) == 0


def test_the_estimated_wait_is_honest_about_what_it_knows():
    capacity = cap.Capacity(open_now=True, online=2, chats_each=2, active=4, waiting=3,
                            queue_limit=10, mean_chat_minutes=20)
    assert cap.estimated_wait_minutes(position=1, capacity=capacity) == 5  # 20/4 rounded up
    assert cap.estimated_wait_minutes(position=3, capacity=capacity) == 15
    nobody = cap.Capacity(open_now=True, online=0, chats_each=2, active=0, waiting=1,
                          queue_limit=10)
    assert cap.estimated_wait_minutes(position=1, capacity=nobody) is None


@pytest.mark.usefixtures("postgres")
def test_the_beat_task_stores_a_limit_that_delivery_reads_and_a_stale_one_holds():
    w = helpline_world()
    PacedCampaign.objects.create(helpline=w.helpline, campaign=w.world.campaign,
                                 prior_contact_rate=0.01, prior_weight=1000)
    rates = pacing_refresh()
    # one counsellor x 2 chats x 3 per hour = 6/h; 80% of it at a 1% contact rate
    assert rates[w.world.campaign.pk] == pytest.approx(0.8 * 6 / 0.01)
    delivery_pacing.cache_clear()
    assert delivery_pacing.sends_per_hour(w.world.campaign.pk) == pytest.approx(480)
    bucket = delivery_pacing.bucket_for(w.world.campaign.pk)
    assert bucket.burst == 8 and bucket.rate == pytest.approx(480 / 3600)
    PacingLimit.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    delivery_pacing.cache_clear()
    assert delivery_pacing.sends_per_hour(w.world.campaign.pk) == 0.0
    assert delivery_pacing.sends_per_hour(w.world.campaign.pk + 999) is None
    w.counsellor.presence = "offline"
    w.counsellor.save()
    assert pacing_refresh()[w.world.campaign.pk] == 0.0
