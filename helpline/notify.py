"""Tell connected pages that something changed, after the change is committed.

Only ids and sequence numbers travel through the channel layer, never message text: a page
that hears "conversation X is at sequence n" reads what it missed from PostgreSQL. A lost
notification (Redis pub/sub delivers at most once, to sockets connected now) costs a delay:
the pages also poll and every reconnect sends the last sequence number seen.

Every event goes to one group, the one each server process's helpline.relay listens to
(`relay.RELAY_GROUP`), and the relay hands it to the sockets of that process that watch the
conversation or the helpline's queue: sockets have no channel of their own (one subscription
per process, not one per socket and group).
"""

from __future__ import annotations

import asyncio
import logging
import os

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

RELAY_GROUP = "helpline.relay"
CONVERSATION_CHANGED = "helpline.changed"
QUEUE_CHANGED = "helpline.queue"


def conversation_changed(conversation_id: object, sequence: int) -> None:
    key = getattr(conversation_id, "hex", str(conversation_id))
    _send_on_commit({"type": CONVERSATION_CHANGED, "conversation": key,
                     "sequence": int(sequence)})


def queue_changed(helpline_id: int) -> None:
    _send_on_commit({"type": QUEUE_CHANGED, "helpline": int(helpline_id)})


def _send_on_commit(event: dict) -> None:
    transaction.on_commit(lambda: _send(event))


def _send(event: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _server_loop()
    if loop is not None:
        # Inside a consumer's database call (a worker thread of the ASGI server): hand the
        # send to the server's event loop and return, instead of holding the thread (and its
        # database connection) until Redis has answered.
        loop.call_soon_threadsafe(_start, layer, event)
        return
    try:
        async_to_sync(layer.group_send)(RELAY_GROUP, event)
    except Exception as error:  # the row is committed; pages catch up by polling
        logger.warning("helpline notification not sent: %s", type(error).__name__)


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop that called into this thread through sync_to_async, if it still runs."""
    if getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


def _start(layer: object, event: dict) -> None:
    task = asyncio.ensure_future(layer.group_send(RELAY_GROUP, event))  # type: ignore[attr-defined]
    _pending.add(task)
    task.add_done_callback(_sent)


_pending: set[asyncio.Future] = set()  # strong references until each send is done


def _sent(task: asyncio.Future) -> None:
    _pending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.warning("helpline notification not sent: %s", type(task.exception()).__name__)
