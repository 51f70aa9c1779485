"""The shared test base: two organisations, each with a manager and a partner key, and an outsider.

Tests that need PostgreSQL or Redis use the `postgres` / `redis_url` fixtures: in CI (CI=true)
a missing service fails the test loudly; on a bare machine the test is skipped with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import connection
from rest_framework.test import APIClient

from organisations.models import ApiKey, ApiScope, Organisation
from tests.factories import ApiKeyFactory, MembershipFactory, OrganisationFactory, UserFactory

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # Hashing test passwords with PBKDF2 would dominate the suite's run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if not settings.CACHE_URL:
        # The development file cache is shared between processes: keep test runs apart.
        settings.CACHES = {"default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Throttle counters and cached look-ups never leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()


def require_service(name: str, reason: str) -> None:
    message = f"{name} is not available: {reason}"
    if IN_CI:
        pytest.fail(f"{message} (CI must run this test)", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def postgres(db: None) -> None:
    if connection.vendor != "postgresql":
        require_service("PostgreSQL", "set DATABASE_URL=postgres://… to run this test")


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    url = os.environ.get("REDIS_URL") or os.environ.get("TEST_REDIS_URL")
    if not url:
        require_service("Redis", "set REDIS_URL=redis://… to run this test")
    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except redis.RedisError as error:
        require_service("Redis", f"{url} does not answer ({type(error).__name__})")
    return url


@dataclass
class Tenant:
    organisation: Organisation
    manager: object
    reviewer: object
    api_key: ApiKey
    secret: str

    def client(self, secret: str | None = None) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret or self.secret}")
        return client

    def key_with(self, *scopes: str, **kwargs: object) -> str:
        _, secret = ApiKeyFactory.create_with_secret(organisation=self.organisation,
                                                     scopes=list(scopes), **kwargs)
        return secret


def make_tenant(name: str, kind: str = "programme_owner") -> Tenant:
    organisation = OrganisationFactory(name=name, kind=kind)
    manager = UserFactory(username=f"{organisation.slug}-manager")
    MembershipFactory(user=manager, organisation=organisation, role="manager")
    reviewer = UserFactory(username=f"{organisation.slug}-reviewer")
    MembershipFactory(user=reviewer, organisation=organisation, role="reviewer")
    api_key, secret = ApiKeyFactory.create_with_secret(organisation=organisation,
                                                       scopes=list(ApiScope.values))
    return Tenant(organisation=organisation, manager=manager, reviewer=reviewer,
                  api_key=api_key, secret=secret)


@pytest.fixture
def tenant(db: None) -> Tenant:
    """Our organisation: a programme owner with a manager, a reviewer and an all-scope key."""
    return make_tenant("Prevention Programme A")


@pytest.fixture
def other_tenant(db: None) -> Tenant:
    """A second organisation: its objects must be invisible (404) to `tenant` and vice versa."""
    return make_tenant("Prevention Programme B")


@pytest.fixture
def outsider(db: None) -> object:
    """A signed-in user who belongs to no organisation."""
    return UserFactory(username="outsider")


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_key(db: None) -> Callable[..., str]:
    def make(organisation: Organisation, *scopes: str, **kwargs: object) -> str:
        _, secret = ApiKeyFactory.create_with_secret(organisation=organisation,
                                                     scopes=list(scopes), **kwargs)
        return secret

    return make
