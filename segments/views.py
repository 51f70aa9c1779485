"""Public pages: the one-click opt-out link (no sign-in; the signed token is the credential)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from segments.models import Recipient
from segments.optout import opt_out_read
from segments.services import opt_out_apply

CHANNEL_WORDS = {"email": "emails", "sms": "text messages"}


@csrf_exempt  # RFC 8058: mail clients POST `List-Unsubscribe=One-Click` without any cookie.
@require_http_methods(["GET", "POST"])
def opt_out(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks to confirm (link scanners must not unsubscribe anyone); POST unsubscribes."""
    decoded = opt_out_read(token)
    if decoded is None:
        return render(request, "segments/opt_out_invalid.html", status=404)
    recipient_id, channel = decoded
    context = {"channel_words": CHANNEL_WORDS[channel], "token": token}
    if request.method == "GET":
        return render(request, "segments/opt_out_confirm.html", context)
    recipient = Recipient.objects.filter(pk=recipient_id).select_related("organisation").first()
    if recipient is not None:
        opt_out_apply(recipient=recipient, channel=channel)
    # The same answer whether or not anything was left to suppress: it reveals nothing.
    return render(request, "segments/opt_out_done.html", context)
