"""Abuse limits without storing who anyone is (the mechanism is `core.throttle`).

- New conversations (and resume attempts) per source: counted by the source address's HMAC
  under the day's random key (`core.throttle.source_tag`), one-hour windows; the address is
  never stored.
- Messages per conversation: a fixed window per conversation id.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from core.throttle import hit as _hit
from core.throttle import hit_many as _hit_many
from core.throttle import source_tag as _source_tag

WINDOW_SECONDS = 3600


def source_tag(address: str, *, at: datetime | None = None) -> str:
    return _source_tag(address, namespace="helpline", at=at)


def source_allows(address: str, *, what: str, at: datetime | None = None) -> bool:
    limit = {"start": settings.HELPLINE_STARTS_PER_SOURCE_PER_HOUR,
             "resume": settings.HELPLINE_RESUMES_PER_SOURCE_PER_HOUR}[what]
    return _hit(f"helpline:{what}:{source_tag(address, at=at)}", limit=limit,
                window=WINDOW_SECONDS)


def message_allows(conversation_id: object, *, sender: str) -> bool:
    return _hit(f"helpline:messages:{sender}:{conversation_id}",
                limit=settings.HELPLINE_MESSAGES_PER_WINDOW,
                window=settings.HELPLINE_MESSAGE_WINDOW_SECONDS)


def messages_allow(conversation_ids: list, *, sender: str) -> list[bool]:
    """message_allows for several messages (the socket relay's batch), one round trip."""
    return _hit_many([f"helpline:messages:{sender}:{cid}" for cid in conversation_ids],
                     limit=settings.HELPLINE_MESSAGES_PER_WINDOW,
                     window=settings.HELPLINE_MESSAGE_WINDOW_SECONDS)
