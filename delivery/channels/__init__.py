"""Channel adapters: email (Django backends), SMS (Twilio-style REST) and signed webhooks."""

from __future__ import annotations

from delivery.channels.base import (
    ChannelSender,
    Outgoing,
    PermanentError,
    SendResult,
    TransientError,
)
from delivery.channels.email import EmailSender
from delivery.channels.sms import SmsSender
from delivery.channels.webhook import WebhookSender


def sender_for(config) -> ChannelSender:  # type: ignore[no-untyped-def]
    """The adapter for a ChannelConfig (one per batch: it keeps a connection open)."""
    adapters = {"email": EmailSender, "sms": SmsSender, "webhook": WebhookSender}
    try:
        adapter = adapters[config.channel]
    except KeyError:
        raise PermanentError(f"channel {config.channel} cannot send scheduled messages") from None
    return adapter(config)


__all__ = ["ChannelSender", "Outgoing", "PermanentError", "SendResult", "TransientError",
           "sender_for"]
