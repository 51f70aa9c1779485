"""Precomposed email is what Django would have written, and pipelined SMTP classifies replies
as smtplib would; anything the splice cannot reproduce goes through Django."""

from __future__ import annotations

import email
import email.policy
import re

import pytest

from delivery.channels.base import Outgoing, PermanentError, SendResult, TransientError
from delivery.channels.email import EmailSender
from delivery.channels.mime import Template, shape, wire


class _Config:
    channel = "email"

    def __init__(self, port: int = 1) -> None:
        self.settings = {"host": "127.0.0.1", "port": port, "from_email": "help@example.org",
                         "reply_to": "replies@example.org"}

    def secrets(self) -> dict:
        return {}


def outgoing(n: int = 1, **changes: str) -> Outgoing:
    values = {
        "delivery_id": f"0190aaaa-bbbb-7ccc-8ddd-{n:012d}", "to": f"person{n}@example.test",
        "subject": "Confidential help is available",
        "text": f"Help is available.\nStop: http://127.0.0.1:8000/opt-out/tok{n}:x\n",
        "html": f"<p>Help is available.</p><p><a href=\"http://x/opt-out/tok{n}\">Stop</a></p>",
        "opt_out_url": f"http://127.0.0.1:8000/opt-out/tok{n}:x-Y_z",
    }
    values.update(changes)
    return Outgoing(**values)


def django_bytes(sender: EmailSender, message: Outgoing) -> bytes:
    return sender._mail(message).message().as_bytes(linesep="\r\n")


def without_date(raw: bytes) -> bytes:
    """The message without its Date line, its random MIME boundary made constant."""
    found = re.search(rb'boundary="([^"]+)"', raw)
    if found:
        raw = raw.replace(found.group(1), b"BOUNDARY")
    return b"\r\n".join(line for line in raw.split(b"\r\n") if not line.startswith(b"Date: "))


@pytest.mark.parametrize("changes", [
    {},
    {"html": ""},
    {"opt_out_url": ""},
    {"text": "Aide confidentielle disponible: é, ü, ✓\nStop: http://x/o/1\n"},
    {"subject": "Hjälp finns, konfidentiell"},
    {"html": "<p>Ünïcode html</p>"},
])
def test_a_spliced_message_is_byte_for_byte_what_django_writes(changes):
    sender = EmailSender(_Config())
    first, second = outgoing(1, **changes), outgoing(2, **changes)
    template = Template.build(first, sender._compose)
    assert template is not None
    for message in (first, second):
        envelope = sender._envelope(message)
        assert without_date(envelope.data) == without_date(django_bytes(sender, message))
        parsed = email.message_from_bytes(envelope.data, policy=email.policy.default)
        assert parsed["Message-ID"] == f"<delivery-{message.delivery_id}@outreach>"
        assert parsed["To"] == message.to and parsed["Date"]


@pytest.mark.parametrize("changes", [
    {"to": "Pérson <person@exämple.test>"},  # needs Django's address encoding
    {"text": "x" * 1200},  # a line over 998 bytes: Django quoted-printable encodes it
    {"opt_out_url": "http://x/<odd>"},
])
def test_what_the_splice_cannot_reproduce_goes_through_django(changes):
    sender = EmailSender(_Config())
    sender._envelope(outgoing(1))  # a template exists for the ordinary shape
    message = outgoing(2, **changes)
    template = sender.templates.get(shape(message))
    text, html = wire(message.text), wire(message.html)
    assert template is None or not template.fits(message, text, html)
    envelope = sender._envelope(message)
    assert without_date(envelope.data) == without_date(django_bytes(sender, message))


def test_replies_are_classified_per_message_in_one_pass(smtp_sink):
    smtp_sink.recorder.rejected_addresses = {"person2@example.test"}
    sender = EmailSender(_Config(smtp_sink.port))
    messages = [outgoing(n) for n in range(5)]
    smtp_sink.recorder.temporary_failures = 1  # the first DATA gets a 451
    try:
        results = sender.send_many(messages, deadline=float("inf"))
    finally:
        sender.close()
    assert isinstance(results[0], TransientError) and results[0].reason.startswith("smtp 451")
    assert isinstance(results[2], PermanentError) and results[2].suppress == "bounced"
    assert results[2].reason == "smtp 550 5.1.1 mailbox unavailable"
    for n in (1, 3, 4):
        assert isinstance(results[n], SendResult)
        assert results[n].provider_message_id == f"<delivery-{messages[n].delivery_id}@outreach>"
    accepted = {rcpt for rcpt, _ in smtp_sink.recorder.accepted}
    assert accepted == {"person1@example.test", "person3@example.test", "person4@example.test"}
    assert smtp_sink.recorder.texts[0].startswith("Help is available.")


def test_a_refused_connection_is_a_transient_error_for_every_message():
    from tests.delivery.sinks import free_port

    sender = EmailSender(_Config(free_port()))
    results = sender.send_many([outgoing(1), outgoing(2)], deadline=float("inf"))
    assert all(isinstance(r, TransientError) and r.reason.startswith("smtp connection")
               for r in results)


def test_nothing_is_started_after_the_deadline(smtp_sink):
    sender = EmailSender(_Config(smtp_sink.port))
    assert sender.send_many([outgoing(1)], deadline=0.0) == [None]
    assert not smtp_sink.recorder.accepted


def test_a_dropped_connection_fails_only_the_unanswered_and_the_rest_go_on_a_new_one(
        smtp_sink):
    smtp_sink.recorder.drop_connection_for = {"person2@example.test"}
    sender = EmailSender(_Config(smtp_sink.port))
    messages = [outgoing(n) for n in range(6)]
    try:
        results = sender.send_many(messages, deadline=float("inf"))
    finally:
        sender.close()
    assert isinstance(results[2], TransientError)
    assert results[2].reason.startswith("smtp connection")
    assert all(isinstance(results[n], SendResult) for n in (0, 1, 4, 5))
    # With pipelining the next message was already on the wire: it is retried too.
    assert isinstance(results[3], SendResult | TransientError)
    sent = {messages[n].to for n, result in enumerate(results) if isinstance(result, SendResult)}
    assert {rcpt for rcpt, _ in smtp_sink.recorder.accepted} == sent


def test_a_message_django_cannot_build_fails_alone(smtp_sink):
    sender = EmailSender(_Config(smtp_sink.port))
    messages = [outgoing(1), outgoing(2, subject="Broken\nheader"), outgoing(3)]
    try:
        results = sender.send_many(messages, deadline=float("inf"))
    finally:
        sender.close()
    assert isinstance(results[0], SendResult) and isinstance(results[2], SendResult)
    assert isinstance(results[1], Exception)
    assert {rcpt for rcpt, _ in smtp_sink.recorder.accepted} == {messages[0].to, messages[2].to}
