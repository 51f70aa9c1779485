import pytest

from outreach import health


@pytest.mark.django_db
def test_healthz_reports_every_dependency_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {"database", "broker", "cache"} <= set(body["checks"])


@pytest.mark.django_db
def test_healthz_answers_503_naming_the_broker_when_it_is_down(client, monkeypatch):
    from celery import Celery

    # A Celery app whose broker is a port where nothing listens: the broker is down.
    # (Celery lets CELERY_BROKER_URL in the environment override the argument.)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setattr(health, "celery_app", Celery(broker="redis://127.0.0.1:1/0"))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]


@pytest.mark.django_db
def test_healthz_answers_503_naming_the_cache_when_it_is_down(client, monkeypatch):
    from django.core.cache.backends.redis import RedisCache

    monkeypatch.setattr(health, "cache", RedisCache("redis://127.0.0.1:1/0", {}))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["cache"]


@pytest.mark.django_db
def test_healthz_names_the_workers_when_none_completed_a_heartbeat(client, settings):
    settings.HEALTH_REQUIRE_WORKERS = True
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["workers"]
    assert {q["status"] for q in response.json()["queues"].values()} == {"stale"}


@pytest.mark.django_db
def test_healthz_is_ok_once_every_queue_ran_a_heartbeat(client, settings):
    from delivery.tasks import QUEUES, heartbeat

    settings.HEALTH_REQUIRE_WORKERS = True
    for queue in QUEUES:
        heartbeat.run(queue)  # what a worker consuming that queue does
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert {q["status"] for q in response.json()["queues"].values()} == {"ok"}

