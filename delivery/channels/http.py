"""Shared HTTP handling for the SMS and webhook adapters: a keep-alive connection pool, sends
of a chunk in parallel, error classification.

urllib3 is used directly: the requests layer above it (sessions, hooks, environment look-ups
per call) costs more CPU per message than the rest of the send. Proxies from the environment
and requests' CA bundle are honoured as requests would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests.certs
import requests.utils
import urllib3
from django.conf import settings

from delivery.channels.base import PermanentError, TransientError

RETRYABLE_STATUS = {408, 425, 429}
USER_AGENT = "Outreach-Delivery/1"
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Response:
    status: int
    headers: Any
    data: bytes

    def json(self) -> Any:
        return json.loads(self.data) if self.data else {}


class Client:
    """Keep-alive connections to a provider, DELIVERY_HTTP_CONCURRENCY at a time at most."""

    def __init__(self, url: str) -> None:
        self.size = max(settings.DELIVERY_HTTP_CONCURRENCY, 1)
        seconds = settings.DELIVERY_HTTP_TIMEOUT_SECONDS
        options: dict[str, Any] = {
            "num_pools": 4, "maxsize": self.size, "block": True, "retries": False,
            "timeout": urllib3.Timeout(connect=seconds, read=seconds),
            "headers": {"User-Agent": USER_AGENT}, "ca_certs": requests.certs.where()}
        proxy = requests.utils.get_environ_proxies(url).get(urlsplit(url).scheme)
        self.pool = (urllib3.ProxyManager(proxy, **options) if proxy
                     else urllib3.PoolManager(**options))
        self.threads: ThreadPoolExecutor | None = None

    def post(self, url: str, *, body: bytes, headers: dict[str, str]) -> Response:
        """The provider's response to a POST, or TransientError / PermanentError."""
        try:
            raw = self.pool.request("POST", url, body=body, headers=headers)
        except urllib3.exceptions.NewConnectionError:
            raise TransientError("http connection error") from None
        except urllib3.exceptions.TimeoutError:
            raise TransientError("http timeout") from None
        except (urllib3.exceptions.HTTPError, OSError):
            raise TransientError("http connection error") from None
        response = Response(raw.status, raw.headers, raw.data)
        if response.status in RETRYABLE_STATUS or response.status >= 500:
            raise TransientError(f"http {response.status}", retry_after=_retry_after(response))
        if response.status >= 400:
            raise PermanentError(f"http {response.status} {_provider_reason(response)}".strip())
        return response

    def map(self, send: Callable[[T], R], items: Sequence[T], *,
            deadline: float) -> list[R | Exception | None]:
        """`send` each item on up to `size` connections at once, results in order: the item's
        result, its exception, or None if it was not started before `deadline`."""

        def one(item: T) -> R | Exception | None:
            if time.monotonic() > deadline:
                return None
            try:
                return send(item)
            except Exception as error:  # classified by the caller
                return error

        if len(items) <= 1 or self.size == 1:
            return [one(item) for item in items]
        if self.threads is None:
            self.threads = ThreadPoolExecutor(self.size, thread_name_prefix="delivery-http")
        return list(self.threads.map(one, items))

    def close(self) -> None:
        if self.threads is not None:
            self.threads.shutdown(wait=True)
            self.threads = None
        self.pool.clear()


def _retry_after(response: Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


def _provider_reason(response: Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or "")[:200]
    return ""
