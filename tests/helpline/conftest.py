from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _helpline_settings(settings):  # type: ignore[no-untyped-def]
    settings.PUBLIC_BASE_URL = "http://testserver"
    settings.INTERVENTIONS_SNAPSHOT_SECONDS = 0
    # channels-redis pub/sub (as in production) on REDIS_URL with a per-test prefix, in
    # memory without it.
    if getattr(settings, "CHANNEL_LAYER_URL", None):
        settings.CHANNEL_LAYERS = {"default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [settings.CHANNEL_LAYER_URL],
                       "prefix": f"test-{uuid.uuid4().hex[:8]}",
                       "symmetric_encryption_keys": ["test-channel-key"]}}}
    cache.clear()
    yield
    cache.clear()
