from __future__ import annotations

from django.core.cache import cache

from interventions.api.authentication import authentication_cache_clear
from interventions.api.throttling import throttle_clear
from interventions.selectors import snapshot_clear
from interventions.services import directory_cache_clear


def interventions_caches_fresh(settings):  # type: ignore[no-untyped-def]
    """Each test sees its own data: no snapshot or directory cache carried over (a generator:
    the body of an autouse fixture, shared by the folders that drive the partner API)."""
    settings.INTERVENTIONS_SNAPSHOT_SECONDS = 0
    settings.INTERVENTIONS_RATE_PER_PARTNER = "100000/min"
    settings.PUBLIC_BASE_URL = "http://testserver"
    # Throttle counters must not leak between tests (the dev file cache is shared).
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "interventions-tests"}}
    cache.clear()
    snapshot_clear()
    directory_cache_clear()
    authentication_cache_clear()
    throttle_clear()
    yield
    snapshot_clear()
    directory_cache_clear()
