"""The sockets' path to PostgreSQL, batched per server process (issue 12's speed target).

Every consumer of one server process (one event loop) hands its work to this process's Relay
instead of making its own database calls:

- posts: the messages posted during one loop tick (and while the previous batch was being
  written) are rate-limited in one Redis round trip and committed in ONE transaction from one
  thread hop (`services.messages_post_batch`: rows locked in id order, each message takes the
  next sequence number, so sequences stay gapless and ordered per conversation). Each sender
  gets its own answer: the sequence number, the DomainError that refused it, RATE_LIMITED, or
  NotSent when the batch's transaction failed (then nothing of that batch was committed, and
  every earlier batch stays committed);
- notifications, after the commit: one per conversation per batch, with its highest sequence.
  Sockets of this process are told directly; other processes hear of the whole batch through
  one channel-layer message to the group RELAY_GROUP, which every process's relay listens to
  (ids and sequence numbers only, encrypted with the layer's symmetric keys like any other
  channel-layer message);
- reads: a socket of this process that had sent everything before a batch is handed that
  batch's committed messages (what a read right after the commit answers: the state, the
  counsellor, the messages as `selectors.messages_after` gives them) and reads nothing; any
  other socket, or one that missed something in between, asks for "conversation X after n",
  and the asks of one tick become one query (`selectors.conversations_after`) from one hop;
- state changes (claim, transfer, end, HTTP posts: helpline.notify) and queue changes arrive
  on the same group, and the relay hands them to this process's sockets that watch the
  conversation or the helpline's queue. So the sockets need no channel of their own: one
  channel-layer subscription per process, however many sockets it serves.

Nothing is kept but what is in flight: the database stays the truth, and a consumer that hears
"X is at n" reads what it has not sent from PostgreSQL, so a lost notification costs a delay and
a reconnect or the polling page gets the same answer from the same tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from core.errors import DomainError
from helpline import notify, selectors, services, throttle
from helpline.models import Conversation, Counsellor, Sender

logger = logging.getLogger(__name__)

RELAY_GROUP = notify.RELAY_GROUP
MAX_BATCH = 500  # posts or reads per statement


class NotSent(Exception):
    """The batch holding this message could not be committed: nothing of it was written."""


RATE_LIMITED = "rate-limited"


class Listener(Protocol):
    def relayed(self, conversation_key: str, sequence: int,
                committed: selectors.Snapshot | None = None) -> None:
        """A message up to `sequence` is committed in the conversation (hex id); must not
        block: the consumer schedules its own push. `committed`: when this process wrote the
        batch, what it wrote there (the conversation's state and the batch's messages, as a
        read would answer): a socket that had seen everything before them sends them without
        reading them back."""

    def changed(self, conversation_key: str, sequence: int) -> None:
        """The conversation's state changed (helpline.notify); must not block."""

    def queue_changed(self) -> None:
        """The queue of the helpline listened to changed; must not block."""


def _db(func: Callable[..., Any]) -> Callable[..., Any]:
    # One thread hop per batch, on the loop's pool (as helpline.consumers._db explains).
    return database_sync_to_async(func, thread_sensitive=False)


@dataclass
class _Post:
    post: services.Post
    future: asyncio.Future


def _write(posts: list[services.Post]
           ) -> tuple[list[int | DomainError | str], dict[uuid.UUID, selectors.Snapshot]]:
    """In the worker thread: the rate limit for the person's messages (one Redis script), then the
    batch's transaction; each post's answer, and what was committed per conversation."""
    people = [i for i, p in enumerate(posts) if p.sender == Sender.PERSON]
    allowed = throttle.messages_allow([posts[i].conversation.pk for i in people],
                                      sender=Sender.PERSON)
    limited = {i for i, ok in zip(people, allowed, strict=True) if not ok}
    writing = [i for i in range(len(posts)) if i not in limited]
    committed: dict[uuid.UUID, selectors.Snapshot] = {}
    written = (services.messages_post_batch([posts[i] for i in writing], committed=committed)
               if writing else [])
    results: list[int | DomainError | str] = [RATE_LIMITED] * len(posts)
    for i, result in zip(writing, written, strict=True):
        results[i] = result
    return results, committed


class Relay:
    """One per event loop (one per server process): see the module docstring."""

    def __init__(self, loop: asyncio.AbstractEventLoop, layer: Any = None) -> None:
        self.loop = loop
        self.layer = layer if layer is not None else get_channel_layer()
        self.origin = uuid.uuid4().hex  # tells this relay's own broadcasts apart
        self._posts: list[_Post] = []
        self._reads: dict[uuid.UUID, list[tuple[int, asyncio.Future]]] = {}
        self._writer: asyncio.Task | None = None
        self._reader: asyncio.Task | None = None
        self._listeners: dict[str, set[Listener]] = {}
        self._queue_listeners: dict[int, set[Listener]] = {}
        self._listening: asyncio.Task | None = None
        self._ready: asyncio.Future | None = None
        self._sending: set[asyncio.Task] = set()
        self.batches = {"write": 0, "read": 0}  # counters, for tests and profiling

    # --- posts -----------------------------------------------------------------------------

    async def post(self, conversation: Conversation, text: object, *, sender: str,
                   counsellor: Counsellor | None = None) -> int | str:
        """The message's sequence number once committed, or RATE_LIMITED; raises the
        DomainError that refused it, or NotSent."""
        future = self.loop.create_future()
        self._posts.append(_Post(services.Post(conversation=conversation, text=text,
                                               sender=sender, counsellor=counsellor), future))
        if self._writer is None:
            self._writer = self.loop.create_task(self._write_batches())
        result = await future
        if isinstance(result, DomainError):
            raise result
        return result

    async def _write_batches(self) -> None:
        try:
            while self._posts:
                batch, self._posts = self._posts[:MAX_BATCH], self._posts[MAX_BATCH:]
                self.batches["write"] += 1
                try:
                    results, committed = await _db(_write)([item.post for item in batch])
                except Exception as error:  # the transaction failed: nothing of it committed
                    logger.warning("helpline message batch not committed (%d messages): %s",
                                   len(batch), type(error).__name__)
                    for item in batch:
                        if not item.future.done():
                            item.future.set_exception(NotSent())
                    continue
                changes: dict[str, int] = {}
                for item, result in zip(batch, results, strict=True):
                    if isinstance(result, int):
                        key = item.post.conversation.pk.hex
                        changes[key] = max(result, changes.get(key, 0))
                self.changed(changes, {c.hex: snapshot for c, snapshot in committed.items()})
                for item, result in zip(batch, results, strict=True):
                    if not item.future.done():
                        item.future.set_result(result)
        finally:
            self._writer = None

    # --- notifications ---------------------------------------------------------------------

    def changed(self, changes: dict[str, int],
                committed: dict[str, selectors.Snapshot] | None = None) -> None:
        """Committed messages: tell this process's sockets now, the other processes through
        one channel-layer message (ids and sequence numbers only: never `committed`)."""
        if not changes:
            return
        self._deliver(changes, committed or {})
        if self.layer is None:
            return
        task = self.loop.create_task(self.layer.group_send(RELAY_GROUP, {
            "type": "helpline.relayed", "origin": self.origin,
            "changes": [[key, sequence] for key, sequence in changes.items()]}))
        self._sending.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Committed all the same: the other processes' pages catch up on the next
            # notification or poll.
            logger.warning("helpline relay notification not sent: %s",
                           type(task.exception()).__name__)

    def _deliver(self, changes: dict[str, int],
                 committed: dict[str, selectors.Snapshot] | None = None) -> None:
        for key, sequence in changes.items():
            self._tell(self._listeners.get(key, ()), "relayed", key, sequence,
                       (committed or {}).get(key))

    async def listen(self, conversation_key: str, listener: Listener) -> None:
        """Tell `listener` of every message committed and every state change in the conversation
        (hex id), by any process, from the moment this returns."""
        self._listeners.setdefault(conversation_key, set()).add(listener)
        await self._subscribed()

    def unlisten(self, conversation_key: str, listener: Listener) -> None:
        _forget(self._listeners, conversation_key, listener)
        self._unsubscribe_when_idle()

    async def listen_queue(self, helpline_id: int, listener: Listener) -> None:
        """Tell `listener` whenever the helpline's queue changes, from the moment this returns."""
        self._queue_listeners.setdefault(helpline_id, set()).add(listener)
        await self._subscribed()

    def unlisten_queue(self, helpline_id: int, listener: Listener) -> None:
        _forget(self._queue_listeners, helpline_id, listener)
        self._unsubscribe_when_idle()

    async def _subscribed(self) -> None:
        if self.layer is None:
            return
        if self._listening is None or self._listening.done():
            self._ready = self.loop.create_future()
            self._listening = self.loop.create_task(self._listen())
        assert self._ready is not None
        await asyncio.shield(self._ready)

    def _unsubscribe_when_idle(self) -> None:
        if not self._listeners and not self._queue_listeners and self._listening is not None:
            self._listening.cancel()  # nobody left in this process; the next listen restarts
            self._listening = None

    async def _listen(self) -> None:
        assert self._ready is not None
        ready = self._ready
        try:
            channel = await self.layer.new_channel("helpline-relay.")
            await self.layer.group_add(RELAY_GROUP, channel)
        except Exception as error:
            ready.set_exception(error)
            raise
        ready.set_result(None)
        try:
            while True:
                self._heard(await self.layer.receive(channel))
        finally:
            with contextlib.suppress(Exception):  # shutting down; the layer forgets it anyway
                await self.layer.group_discard(RELAY_GROUP, channel)

    def _heard(self, event: dict) -> None:
        """One event of the group: another process's batch, a state change or a queue change."""
        kind = event.get("type")
        try:
            if kind == notify.CONVERSATION_CHANGED:
                key, sequence = str(event["conversation"]), int(event.get("sequence", 0))
                self._tell(self._listeners.get(key, ()), "changed", key, sequence)
            elif kind == notify.QUEUE_CHANGED:
                self._tell(self._queue_listeners.get(int(event["helpline"]), ()), "queue_changed")
            elif event.get("origin") != self.origin:  # this process told its own sockets already
                self._deliver({str(k): int(s) for k, s in event.get("changes", [])})
        except (KeyError, TypeError, ValueError):
            logger.warning("helpline relay event not understood: %s", kind)

    @staticmethod
    def _tell(listeners: Any, method: str, *args: Any) -> None:
        for listener in list(listeners):
            try:
                getattr(listener, method)(*args)
            except Exception as error:  # one socket's failure is not the others'
                logger.warning("helpline relay listener failed: %s", type(error).__name__)

    # --- reads -----------------------------------------------------------------------------

    async def read(self, conversation: Conversation, *, after: int
                   ) -> selectors.Snapshot | None:
        """The conversation's state and its messages above `after` (None: it no longer
        exists), read together with every other read asked for in this tick."""
        future = self.loop.create_future()
        self._reads.setdefault(conversation.pk, []).append((after, future))
        if self._reader is None:
            self._reader = self.loop.create_task(self._read_batches())
        return await future

    async def _read_batches(self) -> None:
        try:
            while self._reads:
                ids = list(self._reads)[:MAX_BATCH]
                batch = {i: self._reads.pop(i) for i in ids}
                self.batches["read"] += 1
                requests = [(i, after) for i, asks in batch.items() for after, _ in asks]
                try:
                    snapshots = await _db(selectors.conversations_after)(requests)
                except Exception as error:
                    for asks in batch.values():
                        for _, future in asks:
                            if not future.done():
                                future.set_exception(error)
                    continue
                for conversation_id, asks in batch.items():
                    snapshot = snapshots.get(conversation_id)
                    for after, future in asks:
                        if future.done():
                            continue
                        if snapshot is None:
                            future.set_result(None)
                        else:
                            future.set_result(selectors.Snapshot(
                                state=snapshot.state, next_sequence=snapshot.next_sequence,
                                counsellor_id=snapshot.counsellor_id,
                                counsellor_name=snapshot.counsellor_name,
                                messages=snapshot.after(after)))
        finally:
            self._reader = None


def _forget(listeners: dict[Any, set[Listener]], key: Any, listener: Listener) -> None:
    found = listeners.get(key)
    if found is not None:
        found.discard(listener)
        if not found:
            del listeners[key]


_relays: dict[asyncio.AbstractEventLoop, Relay] = {}


def current() -> Relay:
    """This event loop's relay (made on first use)."""
    loop = asyncio.get_running_loop()
    relay = _relays.get(loop)
    if relay is None:
        for old in [other for other in _relays if other.is_closed()]:
            del _relays[old]
        relay = _relays[loop] = Relay(loop)
    return relay
