"""Email through Django's email backends (SMTP by default; any django-anymail backend works).

One connection is opened per batch and reused. The Message-ID is derived from the delivery id,
so if a worker dies after the server accepted a message but before we recorded it, the
re-transmission carries the same Message-ID and mail clients show it once.
"""

from __future__ import annotations

import contextlib
import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from delivery.channels.base import Outgoing, PermanentError, SendResult, TransientError

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# Options the SMTP backend takes; other keys in settings go to non-SMTP backends untouched.
_SMTP_OPTIONS = ("host", "port", "use_tls", "use_ssl", "timeout")
_BOUNCE_CODES = {550, 551, 553}  # mailbox unavailable / not local / name not allowed


def message_id_for(delivery_id: str) -> str:
    return f"<delivery-{delivery_id}@outreach>"


class EmailSender:
    def __init__(self, config: Any) -> None:
        options = dict(config.settings or {})
        self.from_email = options.pop("from_email", "") or settings.DEFAULT_FROM_EMAIL
        self.reply_to = options.pop("reply_to", "")
        backend = options.pop("backend", "") or SMTP_BACKEND
        secrets = config.secrets()
        if backend == SMTP_BACKEND:
            kwargs = {k: options[k] for k in _SMTP_OPTIONS if k in options}
            kwargs.setdefault("host", settings.EMAIL_HOST)
            kwargs.setdefault("port", settings.EMAIL_PORT)
            kwargs.setdefault("timeout", settings.EMAIL_TIMEOUT)
            kwargs["username"] = secrets.get("username", "")
            kwargs["password"] = secrets.get("password", "")
        else:  # e.g. anymail: its options (api keys from credentials) go straight through
            kwargs = {**options, **secrets}
        self.connection = get_connection(backend, fail_silently=False, **kwargs)

    def send(self, outgoing: Outgoing) -> SendResult:
        mail = self._build(outgoing)
        try:
            # Opened by us, the connection stays open for the whole batch (the backend would
            # otherwise connect and QUIT around every message).
            self.connection.open()
            self.connection.send_messages([mail])
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            raise _classified(code, text) from None
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as error:
            raise _classified(error.smtp_code, error.smtp_error) from None
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as error:
            # OSError covers timeouts and refused or reset connections.
            self._reset()
            raise TransientError(f"smtp connection: {type(error).__name__}") from None
        except smtplib.SMTPException as error:
            self._reset()
            raise TransientError(f"smtp: {type(error).__name__}") from None
        return SendResult(provider_message_id=message_id_for(outgoing.delivery_id))

    def _build(self, outgoing: Outgoing) -> EmailMultiAlternatives:
        headers = {"Message-ID": message_id_for(outgoing.delivery_id),
                   "X-Outreach-Delivery": outgoing.delivery_id}
        if outgoing.opt_out_url:
            # RFC 8058 one-click unsubscribe, which large mailbox providers require.
            headers["List-Unsubscribe"] = f"<{outgoing.opt_out_url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail = EmailMultiAlternatives(
            subject=outgoing.subject, body=outgoing.text, from_email=self.from_email,
            to=[outgoing.to], headers=headers, connection=self.connection,
            reply_to=[self.reply_to] if self.reply_to else None)
        if outgoing.html:
            mail.attach_alternative(outgoing.html, "text/html")
        return mail

    def _reset(self) -> None:
        # The connection may already be broken; the next send reopens it.
        with contextlib.suppress(Exception):
            self.connection.close()

    def close(self) -> None:
        self._reset()


def _classified(code: int, text: bytes | str) -> Exception:
    message = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    reason = f"smtp {code} {message}".strip()
    if 400 <= code < 500:
        return TransientError(reason)
    return PermanentError(reason, suppress="bounced" if code in _BOUNCE_CODES else None)
