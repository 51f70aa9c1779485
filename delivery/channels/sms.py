"""SMS through a Twilio-style REST API.

POST {base_url}/Accounts/{account_sid}/Messages.json (form: To, From, Body, StatusCallback),
basic auth (account_sid, auth_token). The delivery id goes in `Idempotency-Key` (and Twilio's
`I-Twilio-Idempotency-Token`), so a retried request after a lost response sends one SMS.
Status callbacks arrive at POST /api/v1/sms/status (see delivery/api/views.py).
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

from django.conf import settings

from delivery.channels.base import Outgoing, PermanentError, SendResult
from delivery.channels.http import Client

# Provider error codes that mean the number itself is unusable (Twilio's numbering).
UNSUBSCRIBED_CODES = {21610}
BAD_NUMBER_CODES = {21211, 21614}


class SmsSender:
    def __init__(self, config: Any) -> None:
        options = config.settings or {}
        secrets = config.secrets()
        self.account = options.get("account_sid", "")
        base_url = options.get("base_url", "").rstrip("/")
        self.url = f"{base_url}/Accounts/{self.account}/Messages.json"
        self.from_number = options.get("from_number", "")
        credentials = f"{self.account}:{secrets.get('auth_token', '')}".encode()
        self.authorization = f"Basic {base64.b64encode(credentials).decode()}"
        base = getattr(settings, "PUBLIC_BASE_URL", "").rstrip("/")
        self.callback = f"{base}/api/v1/sms/status"
        self.client = Client(self.url)

    def send(self, outgoing: Outgoing) -> SendResult:
        body = urlencode({"To": outgoing.to, "From": self.from_number, "Body": outgoing.text,
                          "StatusCallback": self.callback}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Authorization": self.authorization,
                   "Idempotency-Key": outgoing.delivery_id,
                   "I-Twilio-Idempotency-Token": outgoing.delivery_id}
        try:
            response = self.client.post(self.url, body=body, headers=headers)
        except PermanentError as error:
            raise _with_suppression(error) from None
        return SendResult(provider_message_id=str(response.json().get("sid", ""))[:128])

    def send_many(self, outgoings: list[Outgoing], *, deadline: float) -> list[Any]:
        """A chunk on several keep-alive connections at once; None: not started in time."""
        return self.client.map(self.send, outgoings, deadline=deadline)

    def close(self) -> None:
        self.client.close()


def _with_suppression(error: PermanentError) -> PermanentError:
    codes = {int(part) for part in error.reason.split() if part.isdigit()}
    if codes & UNSUBSCRIBED_CODES:
        error.suppress = "unsubscribed"
    elif codes & BAD_NUMBER_CODES:
        error.suppress = "bounced"
    return error
