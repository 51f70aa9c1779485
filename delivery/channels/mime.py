"""Precomposed email: Django builds the MIME once per shape of message, each person's bytes are
spliced in.

A batch sends the same rendered message to hundreds of people; only the recipient, Message-ID,
delivery id, Date, opt-out link and the (per-person signed) bodies differ. Django's
EmailMultiAlternatives + email.generator cost more CPU than the rest of a send, so a `Template`
is made by letting Django write one real message with marker values in the per-person headers,
then cutting it at those markers and at the two bodies. A person's message is the template's
fixed bytes joined with their values: byte for byte what Django would write, except that the
per-person header lines are never folded (all are ASCII and far below 998 characters).

Anything the splice cannot reproduce exactly goes through Django instead (`fits` says no): a
non-ASCII or unusual address, a body line over 998 bytes (Django would quoted-printable encode
it), a body whose ASCII-ness differs from the template's (7bit vs 8bit), an odd opt-out link.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.core.mail import EmailMultiAlternatives

from delivery.channels.base import PLAIN_ADDRESS, Outgoing

_NEWLINES = re.compile(r"\r\n|\r|\n")  # what email.generator normalises to CRLF
_SAFE_URL = re.compile(r"[\x21-\x3b=\x3f-\x7e]{1,900}\Z")  # printable ASCII but < and >
LINE_LIMIT = 998  # RFC 5322: longer lines make Django switch to quoted-printable

# Marker values Django writes into the per-person header slots of the template.
_MARKERS = {
    "to": "slot-to-4c1e9a@marker.invalid",
    "date": "slot-date-4c1e9a",
    "message_id": "slot-mid-4c1e9a",
    "delivery_id": "slot-did-4c1e9a",
    "unsubscribe": "slot-unsub-4c1e9a",
}


def wire(text: str) -> bytes:
    """A body as the generator writes it (7bit/8bit): CRLF line ends, UTF-8."""
    return _NEWLINES.sub("\r\n", text).encode("utf-8")


def lines_fit(data: bytes) -> bool:
    return len(data) <= LINE_LIMIT or max(map(len, data.split(b"\r\n"))) <= LINE_LIMIT


def shape(outgoing: Outgoing) -> tuple:
    """What decides the template's fixed bytes (and its parts' transfer encodings)."""
    return (outgoing.subject, outgoing.text.isascii(), bool(outgoing.html),
            outgoing.html.isascii(), bool(outgoing.opt_out_url))


@dataclass(frozen=True)
class Template:
    pieces: tuple[bytes | str, ...]  # fixed bytes, or the name of a slot
    boundary: bytes

    @classmethod
    def build(cls, outgoing: Outgoing,
              compose: Callable[..., EmailMultiAlternatives]) -> Template | None:
        """Cut Django's own rendering of `outgoing` into fixed bytes and slots; None when the
        message cannot be cut safely (it is then always built by Django)."""
        unsubscribe = f"<{_MARKERS['unsubscribe']}>" if outgoing.opt_out_url else ""
        mail = compose(outgoing, to=_MARKERS["to"], message_id=_MARKERS["message_id"],
                       delivery_id=_MARKERS["delivery_id"], unsubscribe=unsubscribe,
                       date=_MARKERS["date"])
        message = mail.message()
        raw = message.as_bytes(linesep="\r\n")
        text, html = wire(outgoing.text), wire(outgoing.html) if outgoing.html else b""
        boundary = (message.get_boundary() or "").encode()
        if html and not boundary:
            return None
        cuts = _body_cuts(raw, text, html, boundary)
        if cuts is None:
            return None
        pieces: list[bytes | str] = []
        position = 0
        for start, end, name in cuts:
            pieces += [*_header_pieces(raw[position:start]), name]
            position = end
        pieces += _header_pieces(raw[position:])
        names = [piece for piece in pieces if isinstance(piece, str)]
        wanted = {"to", "date", "message_id", "delivery_id", "text", "html", "unsubscribe"}
        if not html:
            wanted.discard("html")
        if not unsubscribe:
            wanted.discard("unsubscribe")
        if sorted(names) != sorted(wanted):  # a marker folded, encoded or repeated
            return None
        return cls(pieces=tuple(pieces), boundary=boundary)

    def fits(self, outgoing: Outgoing, text: bytes, html: bytes) -> bool:
        """Whether the splice gives exactly what Django would write for this person."""
        if not PLAIN_ADDRESS.match(outgoing.to):
            return False
        if outgoing.opt_out_url and not _SAFE_URL.match(outgoing.opt_out_url):
            return False
        if not lines_fit(text) or (html and not lines_fit(html)):
            return False
        return not (self.boundary and (self.boundary in text or self.boundary in html))

    def render(self, values: dict[str, bytes]) -> bytes:
        return b"".join(piece if isinstance(piece, bytes) else values[piece]
                        for piece in self.pieces)


def _body_cuts(raw: bytes, text: bytes, html: bytes,
               boundary: bytes) -> list[tuple[int, int, str]] | None:
    """(start, end, slot) of each body in `raw`, checked against the multipart structure."""
    if not html:  # a single text/plain part: the body is everything after the headers
        start = raw.find(b"\r\n\r\n") + 4
        return [(start, len(raw), "text")] if start >= 4 and raw[start:] == text else None
    cuts = []
    delimiter = b"\r\n--" + boundary
    position = raw.find(b"--" + boundary + b"\r\n")
    for body, name in ((text, "text"), (html, "html")):
        if position < 0:
            return None
        start = raw.find(b"\r\n\r\n", position) + 4
        end = start + len(body)
        if start < 4 or raw[start:end] != body or not raw.startswith(delimiter, end):
            return None
        cuts.append((start, end, name))
        position = end + 2
    return cuts if raw.endswith(delimiter + b"--\r\n", cuts[-1][1]) else None


def _header_pieces(chunk: bytes) -> list[bytes | str]:
    """Split fixed bytes at the header markers."""
    pieces: list[bytes | str] = [chunk]
    for name, marker in _MARKERS.items():
        split: list[bytes | str] = []
        for piece in pieces:
            if isinstance(piece, str):
                split.append(piece)
                continue
            parts = piece.split(marker.encode())
            for index, part in enumerate(parts):
                if index:
                    split.append(name)
                split.append(part)
        pieces = split
    return pieces
