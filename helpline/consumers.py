"""WebSockets: the person's chat and the counsellor console. Notifications only.

Both consumers keep the last sequence number they sent per conversation; on every
notification (the process's relay after a committed message, or a state change from
helpline.notify, which the relay hands on) they read what is newer from PostgreSQL and send it,
so a missed or duplicated notification changes nothing and a reconnect with `after` gets what
was missed. Posts and those reads go through the process's helpline.relay, which batches them
(one transaction, one query, per loop tick); each consumer reads and sends under its own lock,
so the frames of one socket stay in sequence order. The sockets have no channel-layer channel
of their own: the relay's one subscription per process serves them all.

Person: connect to /ws/helpline/chat/, then send {"type": "hello", "token": …, "after": n}
(the token travels in the first frame, never in the URL, which servers log). Then
{"type": "message", "text": …}, {"type": "leave"}. Console: /ws/helpline/console/ with the
staff session; {"type": "watch", "conversation": id, "after": n}, {"type": "message",
"conversation": id, "text": …}.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from core.errors import DomainError
from helpline import presenters, relay, selectors, services
from helpline.models import Conversation, ConversationState, Counsellor, Sender

logger = logging.getLogger(__name__)
MAX_FRAME_CHARS = 16 * 1024


def _db(func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Run `func` on the event loop's thread pool, not on the one thread-sensitive thread:
    each pool thread has its own database connection, so many conversations' reads and
    writes proceed in parallel instead of queueing behind each other (bench/helpline_chat.py
    measured the difference). The helpline's ORM calls are self-contained (one transaction
    each, no thread-bound state), which is what thread_sensitive=False requires."""
    return database_sync_to_async(func, thread_sensitive=False)


class _Base(AsyncJsonWebsocketConsumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The per-socket push state (one consumer instance per socket).
        self._dirty: set[str] = set()  # conversations (or _QUEUE) notified, not yet pushed
        self._drainer: asyncio.Task | None = None  # the task pushing them, while it runs
        self._posting: str | None = None  # the conversation of the post in flight, if any
        self._offers: dict[str, selectors.Snapshot | None] = {}  # see _offer
        self._lock = asyncio.Lock()  # one push at a time: a socket's frames stay in order

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Channels' AsyncConsumer.__call__ for a consumer without a channel of its own (its
        notifications come from the process's relay): no channel-layer channel, and the frames
        dispatched one after the other as they arrive, without a new task and an
        `asyncio.wait` per frame (`await_many_dispatch`, which a channel to listen on needs)."""
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message: dict) -> None:
        """Channels' dispatch without its `aclose_old_connections()` before every handler: that
        is a hop to the one thread-sensitive thread for every frame of every socket of the
        process (the profile of bench/helpline_chat.py showed it as the largest single cost).
        These consumers run no ORM code on the event loop; every database call is a
        database_sync_to_async hop (ours or the relay's), which closes old connections in
        its own thread before and after."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None,
                      **kwargs: Any) -> None:
        if text_data is None or len(text_data) > MAX_FRAME_CHARS:
            await self.send_json({"type": "error", "detail": "Message too large."})
            return
        try:  # AsyncJsonWebsocketConsumer.receive, without its layers
            await self.receive_json(await self.decode_json(text_data), **kwargs)
        except ValueError:
            await self.send_json({"type": "error", "detail": "Send JSON."})

    # Frames are JSON text both ways, through orjson instead of the json module (json.dumps was
    # ~4% of the workers' CPU in bench/helpline_chat.py's profile). The same JSON: compact, and
    # non-ASCII characters as UTF-8 instead of \u escapes. orjson accepts only valid JSON
    # (no NaN, no lone surrogate escapes, which could not be sealed as UTF-8): its
    # JSONDecodeError is a ValueError, answered "Send JSON." by receive().
    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        content = orjson.loads(text_data)
        if not isinstance(content, dict):
            raise ValueError("not an object")
        return content

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return orjson.dumps(content).decode()

    async def send_json(self, content: Any, close: bool = False) -> None:
        """AsyncJsonWebsocketConsumer.send_json and its two send() layers in one step (what
        they do for a text frame: one websocket.send to the server)."""
        if close:
            await super().send_json(content, close=close)
            return
        await self.base_send({"type": "websocket.send", "text": await self.encode_json(content)})

    async def _error(self, error: DomainError) -> None:
        await self.send_json({"type": "error", "status": error.status_code, **error.as_dict()})

    async def _post(self, conversation: Conversation, text: object, *, sender: str,
                    counsellor: Counsellor | None = None) -> None:
        key = conversation.pk.hex
        self._posting = key  # frames are dispatched one at a time: one post in flight at most
        try:
            result: object = await relay.current().post(conversation, text, sender=sender,
                                                        counsellor=counsellor)
        except (DomainError, relay.NotSent) as error:
            result = error
        await self._push_posted(key)
        if isinstance(result, DomainError):
            await self._error(result)
        elif isinstance(result, relay.NotSent):
            await self.send_json({"type": "error", "status": 503,
                                  "detail": "Your message was not sent. Please send it again."})
        elif result == relay.RATE_LIMITED:
            await self.send_json({"type": "error", "status": 429,
                                  "detail": "You are sending messages very fast."})

    async def _push_posted(self, key: str) -> None:
        """The socket's own post is answered: push what its batch committed (the sender's page
        gets its message back) here, in the frame's handler, not from a new push task."""
        self._posting = None
        if key in self._dirty and self._drainer is None:
            self._dirty.discard(key)
            await self._push_or_log(key)

    # Notifications mark conversations to push; one task per socket pushes them in turn,
    # except for the conversation the socket is posting to, which _post pushes when answered.
    def _wake(self, key: str) -> None:
        self._dirty.add(key)
        if self._drainer is None and key != self._posting:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._dirty:
                await self._push_or_log(self._dirty.pop())
        finally:
            self._drainer = None

    async def _push_or_log(self, key: str) -> None:
        try:
            await self._push_key(key)
        except Exception as error:  # the next notification, or the page's poll, retries
            logger.warning("helpline push failed: %s", type(error).__name__)

    async def _push_key(self, key: str) -> None:
        raise NotImplementedError

    # What the relay offered since the last push of a conversation: the messages its batch
    # committed (a run of sequence numbers), or None: read from the database.
    def _offer(self, key: str, committed: selectors.Snapshot | None) -> None:
        offers = self._offers
        if key not in offers or committed is None:
            offers[key] = committed
            return
        previous = offers[key]
        if previous is not None and committed.messages and previous.messages and \
                committed.messages[0]["sequence"] == previous.messages[-1]["sequence"] + 1:
            offers[key] = dataclasses.replace(committed,
                                              messages=previous.messages + committed.messages)
        else:
            offers[key] = None

    def _offered(self, key: str, seen: int) -> selectors.Snapshot | bool | None:
        """The offered messages above `seen` when they follow on from it (no read needed),
        False when the offer holds nothing new, None: read."""
        offer = self._offers.pop(key, None)
        if offer is None or not offer.messages:
            return None
        first, last = offer.messages[0]["sequence"], offer.messages[-1]["sequence"]
        if last <= seen:
            return False
        if first > seen + 1:
            return None  # something in between was written elsewhere: read it
        return dataclasses.replace(offer, messages=offer.after(seen))

    def _stop_draining(self) -> None:
        if self._drainer is not None:
            self._drainer.cancel()


class PersonConsumer(_Base):
    conversation: Conversation | None = None
    seen = 0

    async def connect(self) -> None:
        await self.accept()

    async def disconnect(self, code: int) -> None:
        self._stop_draining()
        if self.conversation is not None:
            relay.current().unlisten(self.conversation.pk.hex, self)

    async def receive_json(self, content: dict, **kwargs: Any) -> None:
        kind = content.get("type")
        if kind == "hello":
            await self._hello(content)
        elif self.conversation is None:
            await self.close(code=4404)
        elif kind == "message":
            await self._post(self.conversation, content.get("text"), sender=Sender.PERSON)
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
        if self.conversation is not None:
            relay.current().unlisten(self.conversation.pk.hex, self)
        self.conversation = conversation
        self.seen = _int(content.get("after"))
        await relay.current().listen(conversation.pk.hex, self)
        await self._push_view()

    async def _push_view(self) -> None:
        """The full view (queue position included), from the database: hello and ping."""
        assert self.conversation is not None
        async with self._lock:
            view = await _db(presenters.person_view)(self.conversation, after=self.seen)
            await self._send_view(view)

    async def _push_key(self, key: str) -> None:
        """After a notification: the batched read; the full view only while waiting."""
        conversation = self.conversation
        if conversation is None or conversation.pk.hex != key:
            return
        async with self._lock:
            snapshot = self._offered(key, self.seen)
            if snapshot is False:
                return
            if snapshot is None:
                snapshot = await relay.current().read(conversation, after=self.seen)
            if snapshot is None:
                return
            if snapshot.state == ConversationState.WAITING:
                view = await _db(presenters.person_view)(conversation, after=self.seen)
            else:
                view = presenters.person_view_of(
                    conversation, state=snapshot.state, next_sequence=snapshot.next_sequence,
                    counsellor_id=snapshot.counsellor_id,
                    counsellor_name=snapshot.counsellor_name, messages=snapshot.messages)
            await self._send_view(view)

    async def _send_view(self, view: dict) -> None:
        self.seen = max([self.seen, *(m["sequence"] for m in view["messages"])])
        await self.send_json({"type": "view", **view})

    def relayed(self, conversation_key: str, sequence: int,
                committed: selectors.Snapshot | None = None) -> None:
        if sequence > self.seen:
            self._offer(conversation_key, committed)
            self._wake(conversation_key)

    def changed(self, conversation_key: str, sequence: int) -> None:
        if self.conversation is not None and sequence >= self.seen:
            self._offer(conversation_key, None)
            self._wake(conversation_key)


class ConsoleConsumer(_Base):
    counsellor: Counsellor | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.counsellor = await _db(selectors.counsellor_for)(user=user)
        if self.counsellor is None:
            await self.close(code=4403)
            return
        self.watching: dict[str, tuple[Conversation, int]] = {}
        await relay.current().listen_queue(self.counsellor.helpline_id, self)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.counsellor is None:
            return
        self._stop_draining()
        for key in list(getattr(self, "watching", {})):
            relay.current().unlisten(key, self)
        relay.current().unlisten_queue(self.counsellor.helpline_id, self)

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
        key = conversation.pk.hex
        async with self._lock:
            self.watching[key] = (conversation, after)
        await relay.current().listen(key, self)
        await self._push_key(key, read=True)

    async def _message(self, conversation_id: str, text: object) -> None:
        entry = self.watching.get(conversation_id.replace("-", ""))
        if entry is None:
            await self.send_json({"type": "error", "status": 404, "detail": "Not found."})
            return
        await self._post(entry[0], text, sender=Sender.COUNSELLOR, counsellor=self.counsellor)

    async def _push_key(self, key: str, *, read: bool = False) -> None:
        if key == _QUEUE:
            await self.send_json({"type": "queue"})
            return
        async with self._lock:
            if key not in self.watching:
                return
            conversation, seen = self.watching[key]
            snapshot = None if read else self._offered(key, seen)
            if snapshot is False:
                return
            if snapshot is None:
                snapshot = await relay.current().read(conversation, after=seen)
            messages = snapshot.messages if snapshot is not None else []
            if messages:
                self.watching[key] = (conversation, messages[-1]["sequence"])
            await self.send_json({"type": "messages", "conversation": str(conversation.pk),
                                  "messages": messages})

    def relayed(self, conversation_key: str, sequence: int,
                committed: selectors.Snapshot | None = None) -> None:
        entry = self.watching.get(conversation_key)
        if entry is not None and sequence > entry[1]:
            self._offer(conversation_key, committed)
            self._wake(conversation_key)

    def changed(self, conversation_key: str, sequence: int) -> None:
        if conversation_key in self.watching:
            self._offer(conversation_key, None)
            self._wake(conversation_key)

    def queue_changed(self) -> None:
        self._wake(_QUEUE)  # one "queue" frame however many changes came in meanwhile


_QUEUE = "queue"  # the console's wake key for its queue (conversation keys are hex ids)


def _int(value: object) -> int:
    try:
        return max(0, int(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0
