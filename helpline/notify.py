"""Tell connected pages that something changed, after the change is committed.

Only ids and sequence numbers travel through the channel layer, never message text: a page
that hears "conversation X is at sequence n" reads what it missed from PostgreSQL. A lost
notification (channels-redis drops messages after 60 s) therefore costs a delay, not a message:
the pages also poll and every reconnect sends the last sequence number seen.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def conversation_group(conversation_id: object) -> str:
    return f"helpline.c.{getattr(conversation_id, 'hex', conversation_id)}"


def queue_group(helpline_id: int) -> str:
    return f"helpline.q.{helpline_id}"


def conversation_changed(conversation_id: object, sequence: int) -> None:
    key = getattr(conversation_id, "hex", str(conversation_id))
    _send_on_commit(conversation_group(conversation_id),
                    {"type": "conversation.changed", "conversation": key,
                     "sequence": int(sequence)})


def queue_changed(helpline_id: int) -> None:
    _send_on_commit(queue_group(helpline_id), {"type": "queue.changed"})


def _send_on_commit(group: str, event: dict) -> None:
    transaction.on_commit(lambda: _send(group, event))


def _send(group: str, event: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception as error:  # the row is committed; pages catch up by polling
        logger.warning("helpline notification not sent: %s", type(error).__name__)
