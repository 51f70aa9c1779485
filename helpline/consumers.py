"""WebSockets: the person's chat and the counsellor console. Notifications only.

Both consumers keep the last sequence number they sent per conversation; on every
"conversation.changed" they read what is newer from PostgreSQL and send it, so a missed or
duplicated notification changes nothing and a reconnect with `after` gets what was missed.

Person: connect to /ws/helpline/chat/, then send {"type": "hello", "token": …, "after": n}
(the token travels in the first frame, never in the URL, which servers log). Then
{"type": "message", "text": …}, {"type": "leave"}. Console: /ws/helpline/console/ with the
staff session; {"type": "watch", "conversation": id, "after": n}, {"type": "message",
"conversation": id, "text": …}.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from core.errors import DomainError
from helpline import notify, presenters, selectors, services, throttle
from helpline.models import Conversation, Counsellor, Sender

logger = logging.getLogger(__name__)
MAX_FRAME_CHARS = 16 * 1024


def _db(func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Run `func` on the event loop's thread pool, not on the one thread-sensitive thread:
    each pool thread has its own database connection, so many conversations' reads and
    writes proceed in parallel instead of queueing behind each other (bench/helpline_chat.py
    measured the difference). The helpline's ORM calls are self-contained (one transaction
    each, no thread-bound state), which is what thread_sensitive=False requires."""
    return database_sync_to_async(func, thread_sensitive=False)


def _person_post(conversation: Conversation, text: object) -> bool:
    """The rate limit (a cache round trip: not on the event loop) and the write, together."""
    if not throttle.message_allows(conversation.pk, sender=Sender.PERSON):
        return False
    services.message_post(conversation=conversation, text=text, sender=Sender.PERSON)
    return True


class _Base(AsyncJsonWebsocketConsumer):
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None,
                      **kwargs: Any) -> None:
        if text_data is None or len(text_data) > MAX_FRAME_CHARS:
            await self.send_json({"type": "error", "detail": "Message too large."})
            return
        try:
            await super().receive(text_data=text_data, **kwargs)
        except ValueError:
            await self.send_json({"type": "error", "detail": "Send JSON."})

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        content = await super().decode_json(text_data)
        if not isinstance(content, dict):
            raise ValueError("not an object")
        return content

    async def _error(self, error: DomainError) -> None:
        await self.send_json({"type": "error", "status": error.status_code, **error.as_dict()})


class PersonConsumer(_Base):
    conversation: Conversation | None = None
    seen = 0

    async def connect(self) -> None:
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.conversation is not None:
            await self.channel_layer.group_discard(
                notify.conversation_group(self.conversation.pk), self.channel_name)

    async def receive_json(self, content: dict, **kwargs: Any) -> None:
        kind = content.get("type")
        if kind == "hello":
            await self._hello(content)
        elif self.conversation is None:
            await self.close(code=4404)
        elif kind == "message":
            await self._message(content.get("text"))
        elif kind == "leave":
            await _db(services.person_leave)(conversation=self.conversation)
        elif kind == "ping":
            await _db(services.person_seen)(conversation=self.conversation)
            await self._push_view()

    async def _hello(self, content: dict) -> None:
        conversation = await _db(selectors.conversation_for_token)(
            str(content.get("token") or ""))
        if conversation is None:
            await self.close(code=4404)
            return
        self.conversation = conversation
        self.seen = _int(content.get("after"))
        await self.channel_layer.group_add(notify.conversation_group(conversation.pk),
                                           self.channel_name)
        await self._push_view()

    async def _message(self, text: object) -> None:
        assert self.conversation is not None
        try:
            allowed = await _db(_person_post)(self.conversation, text)
        except DomainError as error:
            await self._error(error)
            return
        if not allowed:
            await self.send_json({"type": "error", "status": 429,
                                  "detail": "You are sending messages very fast."})

    async def _push_view(self) -> None:
        assert self.conversation is not None
        view = await _db(presenters.person_view)(self.conversation,
                                                                    after=self.seen)
        self.seen = max([self.seen, *(m["sequence"] for m in view["messages"])])
        await self.send_json({"type": "view", **view})

    async def conversation_changed(self, event: dict) -> None:
        if self.conversation is not None and event.get("sequence", 0) >= self.seen:
            await self._push_view()


class ConsoleConsumer(_Base):
    counsellor: Counsellor | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.counsellor = await _db(selectors.counsellor_for)(user=user)
        if self.counsellor is None:
            await self.close(code=4403)
            return
        self.watching: dict[str, tuple[Conversation, int]] = {}
        await self.channel_layer.group_add(notify.queue_group(self.counsellor.helpline_id),
                                           self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.counsellor is None:
            return
        await self.channel_layer.group_discard(notify.queue_group(self.counsellor.helpline_id),
                                               self.channel_name)
        for key in list(getattr(self, "watching", {})):
            await self.channel_layer.group_discard(notify.conversation_group(key),
                                                   self.channel_name)

    async def receive_json(self, content: dict, **kwargs: Any) -> None:
        kind = content.get("type")
        if kind == "watch":
            await self._watch(str(content.get("conversation") or ""), _int(content.get("after")))
        elif kind == "message":
            await self._message(str(content.get("conversation") or ""), content.get("text"))

    async def _watch(self, conversation_id: str, after: int) -> None:
        conversation = await _db(selectors.staff_conversation)(
            counsellor=self.counsellor, conversation_id=conversation_id)
        if conversation is None:
            await self.send_json({"type": "error", "status": 404, "detail": "Not found."})
            return
        self.watching[conversation.pk.hex] = (conversation, after)
        await self.channel_layer.group_add(notify.conversation_group(conversation.pk),
                                           self.channel_name)
        await self._push(conversation.pk.hex)

    async def _message(self, conversation_id: str, text: object) -> None:
        entry = self.watching.get(conversation_id.replace("-", ""))
        if entry is None:
            await self.send_json({"type": "error", "status": 404, "detail": "Not found."})
            return
        try:
            await _db(services.message_post)(
                conversation=entry[0], text=text, sender=Sender.COUNSELLOR,
                counsellor=self.counsellor)
        except DomainError as error:
            await self._error(error)

    async def _push(self, key: str) -> None:
        conversation, seen = self.watching[key]
        messages = await _db(selectors.messages_after)(conversation,
                                                                          after=seen)
        if messages:
            self.watching[key] = (conversation, messages[-1]["sequence"])
        await self.send_json({"type": "messages", "conversation": str(conversation.pk),
                              "messages": messages})

    async def conversation_changed(self, event: dict) -> None:
        key = str(event.get("conversation") or "")
        if key in self.watching:
            await self._push(key)

    async def queue_changed(self, event: dict) -> None:
        await self.send_json({"type": "queue"})


def _int(value: object) -> int:
    try:
        return max(0, int(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0
