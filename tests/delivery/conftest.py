from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.delivery.sinks import HttpSink, SmtpSink


@pytest.fixture(params=["one-by-one", "pipelined"])
def smtp_sink(request):  # type: ignore[no-untyped-def]
    """An SMTP server with and without PIPELINING: the engine sends differently to each."""
    with SmtpSink() as sink:
        sink.recorder.pipelining = request.param == "pipelined"
        yield sink


@pytest.fixture
def http_sink():  # type: ignore[no-untyped-def]
    with HttpSink() as sink:
        yield sink


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()
