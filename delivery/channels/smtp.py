"""SMTP transmission of prepared messages on one open smtplib connection.

With PIPELINING (RFC 2920, offered by every large provider) a message costs one round trip:
its body goes in one write with the next message's MAIL, RCPT and DATA, and the replies are
read in order. Without it each message is `sendmail` (four round trips). Replies are classified
exactly as smtplib's exceptions would be: 4xx retry, 5xx fail (550/551/553 also suppress).
"""

from __future__ import annotations

import re
import smtplib
import time
from collections import deque
from dataclasses import dataclass

from delivery.channels.base import PLAIN_ADDRESS, PermanentError, SendResult, TransientError

BOUNCE_CODES = {550, 551, 553}  # mailbox unavailable / not local / name not allowed
_LEADING_DOT = re.compile(rb"(?m)^\.")

Result = SendResult | TransientError | PermanentError | None  # None: not attempted


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipient: str
    data: bytes  # the whole message, CRLF line ends
    message_id: str


def classified(code: int, text: bytes | str) -> TransientError | PermanentError:
    message = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    reason = f"smtp {code} {message}".strip()
    if 400 <= code < 500:
        return TransientError(reason)
    return PermanentError(reason, suppress="bounced" if code in BOUNCE_CODES else None)


def transmit(smtp: smtplib.SMTP, envelopes: list[Envelope], *,
             deadline: float) -> tuple[list[Result], bool]:
    """Send each envelope; stops starting new ones at `deadline` (time.monotonic()).

    Returns the results and whether the connection broke. When it breaks, every message
    already handed to the server without its final reply is a TransientError (it may have been
    accepted: it is sent again later under the same Message-ID); later ones stay None.
    """
    results: list[Result] = [None] * len(envelopes)
    started: list[int] = []  # indices handed to the server, in order
    try:
        smtp.ehlo_or_helo_if_needed()
        if smtp.has_extn("pipelining"):
            _pipelined(smtp, envelopes, deadline, results, started)
        else:
            _one_by_one(smtp, envelopes, deadline, results, started)
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as error:
        _unfinished(results, started, f"smtp connection: {type(error).__name__}")
        return results, True
    except smtplib.SMTPException as error:
        _unfinished(results, started, f"smtp: {type(error).__name__}")
        return results, True
    return results, False


def _unfinished(results: list[Result], started: list[int], reason: str) -> None:
    for index in started or [0]:
        if index < len(results) and results[index] is None:
            results[index] = TransientError(reason)


def _one_by_one(smtp: smtplib.SMTP, envelopes: list[Envelope], deadline: float,
                results: list[Result], started: list[int]) -> None:
    for index, envelope in enumerate(envelopes):
        if time.monotonic() > deadline:
            break
        started.append(index)
        try:
            smtp.sendmail(envelope.sender, [envelope.recipient], envelope.data)
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            results[index] = classified(code, text)
            continue
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as error:
            results[index] = classified(error.smtp_code, error.smtp_error)
            continue
        results[index] = SendResult(provider_message_id=envelope.message_id)


class _Transaction:
    """Replies still owed for one message: MAIL, RCPT, DATA, then the body's."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.error: TransientError | PermanentError | None = None


def _pipelined(smtp: smtplib.SMTP, envelopes: list[Envelope], deadline: float,
               results: list[Result], started: list[int]) -> None:
    size = smtp.has_extn("size")
    quoted: dict[str, str] = {}  # smtplib.quoteaddr parses the address: once per address
    expected: deque[tuple[str, _Transaction]] = deque()
    outgoing = b""
    for index, envelope in enumerate(envelopes):
        if time.monotonic() > deadline:
            break
        transaction = _Transaction(index)
        option = f" SIZE={len(envelope.data)}" if size else ""
        sender = quoted.get(envelope.sender) or quoted.setdefault(
            envelope.sender, smtplib.quoteaddr(envelope.sender))
        outgoing += (f"MAIL FROM:{sender}{option}\r\n"
                     f"RCPT TO:{_quoted(envelope.recipient)}\r\nDATA\r\n").encode()
        expected += [("mail", transaction), ("rcpt", transaction), ("data", transaction)]
        started.append(index)
        smtp.send(outgoing)
        outgoing = _read_until_data(smtp, expected, results, envelopes)
    if outgoing:
        smtp.send(outgoing)
    while expected:
        _read_one(smtp, expected, results, envelopes)


def _read_until_data(smtp: smtplib.SMTP, expected: deque, results: list[Result],
                     envelopes: list[Envelope]) -> bytes:
    """Read replies up to this message's DATA reply; return what to write next."""
    while True:
        kind = expected[0][0]
        follow = _read_one(smtp, expected, results, envelopes)
        if kind == "data":
            return follow


def _read_one(smtp: smtplib.SMTP, expected: deque, results: list[Result],
              envelopes: list[Envelope]) -> bytes:
    kind, transaction = expected.popleft()
    code, text = smtp.getreply()
    index = transaction.index
    if (kind == "mail" and code != 250) or (kind == "rcpt" and code not in (250, 251)):
        transaction.error = transaction.error or classified(code, text)
    elif kind == "data":
        if code == 354:
            if transaction.error is None:
                expected.append(("body", transaction))
                return _data_block(envelopes[index].data)
            # Recipient refused but DATA accepted anyway: end an empty message, then reset.
            expected += [("ignore", transaction), ("ignore", transaction)]
            results[index] = transaction.error
            return b".\r\nRSET\r\n"
        results[index] = transaction.error or classified(code, text)
        expected.append(("ignore", transaction))
        return b"RSET\r\n"
    elif kind == "body":
        results[index] = (SendResult(provider_message_id=envelopes[index].message_id)
                          if code == 250 else classified(code, text))
    return b""


def _quoted(address: str) -> str:
    """smtplib.quoteaddr without its parser for a plain address (the usual case)."""
    if PLAIN_ADDRESS.match(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


def _data_block(data: bytes) -> bytes:
    quoted = _LEADING_DOT.sub(b"..", data)
    if not quoted.endswith(b"\r\n"):
        quoted += b"\r\n"
    return quoted + b".\r\n"
