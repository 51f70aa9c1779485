"""The channel rate limiter: one token bucket shared by every worker (Redis), and its local twin."""

from __future__ import annotations

import time

import pytest

from delivery import ratelimit

pytestmark = pytest.mark.django_db


def test_the_token_bucket_is_shared_and_refills_at_its_rate(redis_url):
    bucket = ratelimit.Bucket(organisation_id=999_001, channel=f"email-{time.time_ns()}",
                              rate=10, burst=5)
    first, second = ratelimit.RedisBuckets(redis_url), ratelimit.RedisBuckets(redis_url)
    assert first.acquire(bucket, 5, max_wait=1) == 0  # the burst is there at once
    wait = second.acquire(bucket, 5, max_wait=1)  # another "worker" shares the same bucket
    assert 0.4 < wait <= 0.5  # 5 tokens at 10/s, minus what refilled meanwhile
    assert first.acquire(bucket, 50, max_wait=1) < 0  # too long to wait: not reserved


def test_the_local_bucket_keeps_the_same_rules():
    buckets = ratelimit.LocalBuckets()
    bucket = ratelimit.Bucket(1, "sms", rate=2, burst=2)
    assert buckets.acquire(bucket, 2, max_wait=5) == 0
    assert 0.9 < buckets.acquire(bucket, 2, max_wait=5) <= 1.0
    assert buckets.acquire(bucket, 20, max_wait=5) < 0
