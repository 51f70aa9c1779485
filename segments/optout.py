"""Signed one-click opt-out links: /opt-out/<token>.

The token is `django.core.signing` over (recipient id, channel) with its own salt: it proves we
issued it, names no contact detail, and does not expire (an opt-out link in an old message must
keep working). Rotating SECRET_KEY (with SECRET_KEY_FALLBACKS) retires old links gracefully.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

from segments.models import ContactChannel, Recipient

SALT = "segments.opt-out"


def opt_out_token(*, recipient: Recipient, channel: str) -> str:
    if channel not in ContactChannel.values:
        raise ValueError(f"no opt-out for channel {channel!r}")
    return signing.dumps([recipient.pk, channel], salt=SALT, compress=True)


def opt_out_read(token: str) -> tuple[int, str] | None:
    """(recipient id, channel) from a token we issued; None for anything else."""
    try:
        recipient_id, channel = signing.loads(token, salt=SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(recipient_id, int) or channel not in ContactChannel.values:
        return None
    return recipient_id, channel


def opt_out_url(*, recipient: Recipient, channel: str) -> str:
    """The absolute link for a message footer and the List-Unsubscribe header (RFC 8058)."""
    path = reverse("segments:opt-out", args=[opt_out_token(recipient=recipient, channel=channel)])
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}"


class OptOutLinks:
    """`opt_out_url` for a batch of sends. Reversing the URL costs more than signing the token,
    so the first link of a channel is built in full and the others reuse its text around the
    token (checked to hold the token exactly once; otherwise every link is built in full)."""

    def __init__(self) -> None:
        self.frames: dict[str, tuple[str, str] | None] = {}

    def url(self, *, recipient: Recipient, channel: str) -> str:
        if channel not in ContactChannel.values:
            return ""  # webhooks go to a partner's system, not to a person
        token = opt_out_token(recipient=recipient, channel=channel)
        if channel not in self.frames:
            url = opt_out_url(recipient=recipient, channel=channel)
            before, found, after = url.partition(token)
            self.frames[channel] = (before, after) if found and token not in after else None
            return url
        frame = self.frames[channel]
        if frame is None:
            return opt_out_url(recipient=recipient, channel=channel)
        return f"{frame[0]}{token}{frame[1]}"
