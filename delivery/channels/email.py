"""Email through Django's email backends (SMTP by default; any django-anymail backend works).

One connection is opened per batch and reused. The Message-ID is derived from the delivery id,
so if a worker dies after the server accepted a message but before we recorded it, the
re-transmission carries the same Message-ID and mail clients show it once.

With the SMTP backend, messages are precomposed (delivery/channels/mime.py: Django writes one
message per shape, each person's values are spliced in) and sent with PIPELINING when the
server offers it (delivery/channels/smtp.py). Other backends get Django's message per person.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import time
from email.utils import formatdate
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import sanitize_address

from delivery.channels import smtp as transport
from delivery.channels.base import Outgoing, SendResult, TransientError
from delivery.channels.mime import Template, shape, wire

logger = logging.getLogger(__name__)

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# Options the SMTP backend takes; other keys in settings go to non-SMTP backends untouched.
_SMTP_OPTIONS = ("host", "port", "use_tls", "use_ssl", "timeout")


def message_id_for(delivery_id: str) -> str:
    return f"<delivery-{delivery_id}@outreach>"


class EmailSender:
    def __init__(self, config: Any) -> None:
        options = dict(config.settings or {})
        self.from_email = options.pop("from_email", "") or settings.DEFAULT_FROM_EMAIL
        self.reply_to = options.pop("reply_to", "")
        backend = options.pop("backend", "") or SMTP_BACKEND
        secrets = config.secrets()
        self.smtp = backend == SMTP_BACKEND
        if self.smtp:
            kwargs = {k: options[k] for k in _SMTP_OPTIONS if k in options}
            kwargs.setdefault("host", settings.EMAIL_HOST)
            kwargs.setdefault("port", settings.EMAIL_PORT)
            kwargs.setdefault("timeout", settings.EMAIL_TIMEOUT)
            kwargs["username"] = secrets.get("username", "")
            kwargs["password"] = secrets.get("password", "")
        else:  # e.g. anymail: its options (api keys from credentials) go straight through
            kwargs = {**options, **secrets}
        self.connection = get_connection(backend, fail_silently=False, **kwargs)
        self.sender = sanitize_address(self.from_email, settings.DEFAULT_CHARSET)
        self.templates: dict[tuple, Template | None] = {}

    def send(self, outgoing: Outgoing) -> SendResult:
        result = self.send_many([outgoing], deadline=float("inf"))[0]
        if isinstance(result, Exception):
            raise result
        return result or SendResult()

    def send_many(self, outgoings: list[Outgoing], *,
                  deadline: float) -> list[transport.Result]:
        """Send in order on one connection; None for those not started before `deadline`."""
        if not self.smtp:
            return [self._through_backend(outgoing) if time.monotonic() <= deadline else None
                    for outgoing in outgoings]
        results: list[transport.Result] = [None] * len(outgoings)
        envelopes: dict[int, transport.Envelope] = {}
        for index, outgoing in enumerate(outgoings):
            try:
                envelopes[index] = self._envelope(outgoing)
            except Exception as error:  # e.g. a header Django refuses: only this one fails
                results[index] = error
        waiting = list(envelopes)
        while waiting and time.monotonic() <= deadline:
            # Opened by us, the connection stays open for the whole batch; after a break the
            # rest go on a new one, as a per-message send would.
            try:
                self.connection.open()
            except (OSError, smtplib.SMTPException) as error:
                for index in waiting:
                    results[index] = TransientError(_connection_reason(error))
                break
            done, broken = transport.transmit(self.connection.connection,
                                              [envelopes[i] for i in waiting],
                                              deadline=deadline)
            for index, result in zip(waiting, done, strict=True):
                results[index] = result
            if not broken:
                break
            self._reset()
            waiting = [index for index in waiting if results[index] is None]
        return results

    def _envelope(self, outgoing: Outgoing) -> transport.Envelope:
        message_id = message_id_for(outgoing.delivery_id)
        sender = self.sender
        key = shape(outgoing)
        if key not in self.templates:
            self.templates[key] = Template.build(outgoing, self._compose)
        template = self.templates[key]
        text, html = wire(outgoing.text), wire(outgoing.html) if outgoing.html else b""
        if template is not None and template.fits(outgoing, text, html):
            data = template.render({
                "to": outgoing.to.encode(), "message_id": message_id.encode(),
                "delivery_id": outgoing.delivery_id.encode(),
                "unsubscribe": outgoing.opt_out_url.encode(),
                "date": formatdate(localtime=settings.EMAIL_USE_LOCALTIME).encode(),
                "text": text, "html": html})
            return transport.Envelope(sender, outgoing.to, data, message_id)
        mail = self._mail(outgoing)  # anything unusual: Django builds it, as it always did
        data = mail.message().as_bytes(linesep="\r\n")
        return transport.Envelope(sender, sanitize_address(outgoing.to, settings.DEFAULT_CHARSET),
                                  data, message_id)

    def _mail(self, outgoing: Outgoing) -> EmailMultiAlternatives:
        unsubscribe = f"<{outgoing.opt_out_url}>" if outgoing.opt_out_url else ""
        return self._compose(outgoing, to=outgoing.to,
                             message_id=message_id_for(outgoing.delivery_id),
                             delivery_id=outgoing.delivery_id, unsubscribe=unsubscribe)

    def _compose(self, outgoing: Outgoing, *, to: str, message_id: str, delivery_id: str,
                 unsubscribe: str, date: str | None = None) -> EmailMultiAlternatives:
        headers = {"Message-ID": message_id, "X-Outreach-Delivery": delivery_id}
        if date is not None:
            headers["Date"] = date
        if unsubscribe:
            # RFC 8058 one-click unsubscribe, which large mailbox providers require.
            headers["List-Unsubscribe"] = unsubscribe
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail = EmailMultiAlternatives(
            subject=outgoing.subject, body=outgoing.text, from_email=self.from_email,
            to=[to], headers=headers, connection=self.connection,
            reply_to=[self.reply_to] if self.reply_to else None)
        if outgoing.html:
            mail.attach_alternative(outgoing.html, "text/html")
        return mail

    def _through_backend(self, outgoing: Outgoing) -> transport.Result:
        """Non-SMTP backends (e.g. anymail's HTTP APIs) get the Django message."""
        try:
            self.connection.open()
            self.connection.send_messages([self._mail(outgoing)])
        except smtplib.SMTPException as error:
            return TransientError(f"smtp: {type(error).__name__}")
        except OSError as error:
            return TransientError(_connection_reason(error))
        except Exception as error:  # an adapter bug must not lose the chunk's other outcomes
            logger.exception("unexpected error from the email backend")
            return TransientError(f"unexpected {type(error).__name__}")
        return SendResult(provider_message_id=message_id_for(outgoing.delivery_id))

    def _reset(self) -> None:
        # The connection may already be broken; the next send reopens it.
        with contextlib.suppress(Exception):
            self.connection.close()

    def close(self) -> None:
        self._reset()


def _connection_reason(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPException) and not isinstance(
            error, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return f"smtp: {type(error).__name__}"
    return f"smtp connection: {type(error).__name__}"
