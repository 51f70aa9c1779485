"""Shared HTTP handling for the SMS and webhook adapters: one session, error classification."""

from __future__ import annotations

import requests

from delivery.channels.base import PermanentError, TransientError
from delivery.conf import setting

RETRYABLE_STATUS = {408, 425, 429}


def new_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "Outreach-Delivery/1"
    return session


def post(session: requests.Session, url: str, **kwargs: object) -> requests.Response:
    try:
        response = session.post(url, timeout=setting("DELIVERY_HTTP_TIMEOUT_SECONDS"),
                                **kwargs)  # type: ignore[arg-type]
    except requests.Timeout:
        raise TransientError("http timeout") from None
    except requests.ConnectionError:
        raise TransientError("http connection error") from None
    if response.status_code in RETRYABLE_STATUS or response.status_code >= 500:
        raise TransientError(f"http {response.status_code}",
                             retry_after=_retry_after(response))
    if response.status_code >= 400:
        raise PermanentError(f"http {response.status_code} {_provider_reason(response)}".strip())
    return response


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


def _provider_reason(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or "")[:200]
    return ""
