"""Signed JSON webhooks to a partner (e.g. a probation service's case system).

Body: {"delivery_id", "campaign", "referral_code", "recipient", "subject", "text", "html",
"sent_at"}; headers: `Outreach-Signature` (delivery/signing.py) and `Idempotency-Key` (the
delivery id: the partner must treat a repeated key as the same message).
"""

from __future__ import annotations

import json
from typing import Any

from django.utils import timezone

from delivery.channels.base import Outgoing, SendResult
from delivery.channels.http import Client
from delivery.signing import HEADER, sign


class WebhookSender:
    def __init__(self, config: Any) -> None:
        self.url = (config.settings or {}).get("url", "")
        self.secret = config.secrets().get("signing_secret", "")
        self.client = Client(self.url)

    def send(self, outgoing: Outgoing) -> SendResult:
        body = json.dumps({
            "delivery_id": outgoing.delivery_id,
            **outgoing.metadata,
            "recipient": outgoing.to,
            "subject": outgoing.subject,
            "text": outgoing.text,
            "html": outgoing.html,
            "sent_at": timezone.now().isoformat(),
        }, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": outgoing.delivery_id,
                   HEADER: sign(body, secret=self.secret)}
        response = self.client.post(self.url, body=body, headers=headers)
        return SendResult(provider_message_id=response.headers.get("X-Request-Id", "")[:128])

    def send_many(self, outgoings: list[Outgoing], *, deadline: float) -> list[Any]:
        """A chunk on several keep-alive connections at once; None: not started in time."""
        return self.client.map(self.send, outgoings, deadline=deadline)

    def close(self) -> None:
        self.client.close()
