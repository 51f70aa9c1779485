"""`/healthz`: the state of the database, the broker and the cache (503 naming what is down)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from delivery.health import check_workers as delivery_check_workers
from delivery.health import workers_status
from outreach.celery import app as celery_app


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def check_cache() -> None:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "ok", 10)
    if cache.get(key) != "ok":
        raise RuntimeError("cache did not return what was written")
    cache.delete(key)


def check_workers() -> None:
    # Proves tasks complete (a heartbeat task's timestamp), not that a process exists.
    delivery_check_workers()


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "cache": check_cache,
    "workers": check_workers,
}


def run_check(check: Callable[[], None]) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception as error:
        return {"status": "down", "error": type(error).__name__}
    return {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}


def queue_heartbeats() -> dict:
    try:
        return workers_status()
    except Exception:
        return {}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    results = {name: run_check(check) for name, check in CHECKS.items()}
    down = [name for name, result in results.items() if result["status"] != "ok"]
    body = {"status": "down" if down else "ok", "down": down, "checks": results,
            "queues": queue_heartbeats()}
    return JsonResponse(body, status=503 if down else 200)
