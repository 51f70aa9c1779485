"""What every channel adapter takes and returns, and how it reports errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

# An address every email parser reads as itself (dot-atoms of letters, digits, _ + -): written
# as it is, with no header encoding or parsing.
PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\Z")


class TransientError(Exception):
    """Worth retrying later: a timeout, a 429 or 5xx, an SMTP 4xx, a dropped connection."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason[:300]
        self.retry_after = retry_after


class PermanentError(Exception):
    """Will never succeed: the provider's reason is kept. `suppress` names a suppression
    reason ("bounced", "complaint", "unsubscribed") when the address itself is the problem."""

    def __init__(self, reason: str, *, suppress: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason[:300]
        self.suppress = suppress


@dataclass(frozen=True)
class Outgoing:
    delivery_id: str
    to: str
    subject: str
    text: str
    html: str
    opt_out_url: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str = ""


# What `send_many` returns per message: its SendResult, the error it raised (TransientError,
# PermanentError, anything else is retried as unexpected), or None when it was not started
# because the deadline passed (the row goes back unsent).
SendOutcome = SendResult | Exception | None


class ChannelSender(Protocol):
    def send(self, outgoing: Outgoing) -> SendResult:
        """One message (raises TransientError / PermanentError): tests and one-off sends."""
        ...

    def send_many(self, outgoings: list[Outgoing], *, deadline: float) -> list[SendOutcome]:
        """A chunk, in order, one outcome per message; none is started after `deadline`
        (time.monotonic()). How the delivery engine sends."""
        ...

    def close(self) -> None: ...
