"""SMS and webhook channels against a fake provider, and the SMS provider's status callbacks."""

from __future__ import annotations

import json
import time

import pytest
from django.utils import timezone

from delivery.fanout import schedule_fan_out
from delivery.models import Delivery, DeliveryAttempt
from delivery.signing import HEADER, sign, verify
from evaluation.models import Exposure
from segments.models import Suppression
from tests.delivery.factories import channel_config, recipients, send_until_idle, sending_campaign

pytestmark = pytest.mark.django_db


def sms_config(organisation, sink):  # type: ignore[no-untyped-def]
    return channel_config(organisation, "sms",
                          settings={"base_url": sink.url, "account_sid": "AC123",
                                    "from_number": "+447700900000"},
                          secrets={"auth_token": "token", "callback_secret": "cb-secret"})


def test_sms_goes_to_the_provider_with_the_delivery_id_as_idempotency_key(tenant, http_sink):
    recipients(tenant.organisation, 5, channel="sms")
    built = sending_campaign(tenant.organisation, channel="sms")
    sms_config(tenant.organisation, http_sink)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    assert send_until_idle().sent == 5
    keys = set(http_sink.recorder.by_key)
    assert keys == {str(pk) for pk in Delivery.objects.values_list("pk", flat=True)}
    first = next(iter(http_sink.recorder.by_key.values()))
    assert first["path"] == "/Accounts/AC123/Messages.json"
    assert first["headers"]["Authorization"].startswith("Basic ")
    sids = set(Delivery.objects.values_list("provider_message_id", flat=True))
    assert all(sid.startswith("SM") for sid in sids) and len(sids) == 5


def test_an_sms_provider_outage_is_retried_and_a_resend_is_deduplicated(tenant, http_sink):
    recipients(tenant.organisation, 3, channel="sms")
    built = sending_campaign(tenant.organisation, channel="sms")
    sms_config(tenant.organisation, http_sink)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    http_sink.recorder.unavailable = 3
    assert send_until_idle().retried == 3
    assert set(DeliveryAttempt.objects.values_list("reason", flat=True)) == {"http 503"}
    Delivery.objects.update(next_attempt_at=timezone.now())
    assert send_until_idle().sent == 3
    # A worker that died after the provider accepted re-sends with the same key: one SMS.
    Delivery.objects.update(state="queued")
    send_until_idle()
    assert len(http_sink.recorder.by_key) == 3 and http_sink.recorder.requests == 9
    assert Exposure.objects.filter(campaign=built.campaign).count() == 3  # counted once


def test_a_rejected_number_fails_with_the_providers_reason_and_is_suppressed(tenant,
                                                                            http_sink):
    recipients(tenant.organisation, 2, channel="sms")
    built = sending_campaign(tenant.organisation, channel="sms")
    sms_config(tenant.organisation, http_sink)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    http_sink.recorder.reject_to = {"+447700900001"}
    send_until_idle()
    failed = Delivery.objects.get(state="failed")
    assert failed.reason == "http 400 21211 invalid To number"
    assert Suppression.objects.filter(recipient=failed.recipient, channel="sms",
                                      reason="bounced").exists()


def test_an_sms_chunk_goes_out_in_parallel_with_results_in_order(http_sink, settings):
    from delivery.channels.base import Outgoing, PermanentError, SendResult
    from delivery.channels.sms import SmsSender

    settings.DELIVERY_HTTP_CONCURRENCY = 4
    config = type("Config", (), {
        "settings": {"base_url": http_sink.url, "account_sid": "AC1", "from_number": "+44"},
        "secrets": lambda self: {"auth_token": "t"}})()
    http_sink.recorder.reject_to = {"+447700900005"}
    sender = SmsSender(config)
    outgoings = [Outgoing(delivery_id=f"id-{n}", to=f"+44770090000{n}", subject="", text="hi",
                          html="") for n in range(9)]
    try:
        results = sender.send_many(outgoings, deadline=float("inf"))
        assert sender.send_many(outgoings[:2], deadline=0.0) == [None, None]
    finally:
        sender.close()
    assert isinstance(results[5], PermanentError) and results[5].suppress == "bounced"
    sids = {http_sink.recorder.by_key[f"id-{n}"]["sid"] for n in range(9) if n != 5}
    assert [r.provider_message_id for r in results if isinstance(r, SendResult)] == [
        http_sink.recorder.by_key[f"id-{n}"]["sid"] for n in range(9) if n != 5]
    assert len(sids) == 8


def test_an_unreachable_provider_is_a_transient_error():
    from delivery.channels.base import TransientError
    from delivery.channels.http import Client
    from tests.delivery.sinks import free_port

    url = f"http://127.0.0.1:{free_port()}/x"
    client = Client(url)
    results = client.map(lambda body: client.post(url, body=body, headers={}), [b"a", b"b"],
                         deadline=float("inf"))
    client.close()
    assert all(isinstance(r, TransientError) and r.reason == "http connection error"
               for r in results)


def test_webhooks_are_signed_over_timestamp_and_body(tenant, http_sink):
    recipients(tenant.organisation, 2)
    built = sending_campaign(tenant.organisation, channel="webhook")
    channel_config(tenant.organisation, "webhook", settings={"url": f"{http_sink.url}/hook"},
                   secrets={"signing_secret": "partner-secret"})
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    assert send_until_idle().sent == 2
    for key, request in http_sink.recorder.by_key.items():
        body = request["body"]
        assert verify(body, request["headers"][HEADER], secret="partner-secret")
        assert not verify(body, request["headers"][HEADER], secret="wrong")
        payload = json.loads(body)
        assert payload["delivery_id"] == key
        assert payload["referral_code"] == built.campaign.referral_code
        assert "@" not in payload["recipient"]  # a pseudonymous reference, not a contact


def test_a_signature_from_long_ago_is_refused():
    body = b'{"a":1}'
    old = sign(body, secret="s", timestamp=int(time.time()) - 3600)
    assert not verify(body, old, secret="s")
    assert verify(body, sign(body, secret="s"), secret="s")
    assert not verify(body, "garbage", secret="s")


def _sent_sms(tenant, http_sink) -> Delivery:  # type: ignore[no-untyped-def]
    recipients(tenant.organisation, 1, channel="sms")
    built = sending_campaign(tenant.organisation, channel="sms")
    sms_config(tenant.organisation, http_sink)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    send_until_idle()
    return Delivery.objects.get()


def _callback(client, payload: dict, secret: str = "cb-secret"):  # type: ignore[no-untyped-def]
    from urllib.parse import urlencode

    body = urlencode(payload)
    return client.post("/api/v1/sms/status", body,
                       content_type="application/x-www-form-urlencoded",
                       headers={HEADER: sign(body.encode(), secret=secret)})


def test_a_signed_delivered_report_marks_the_sms_delivered(tenant, http_sink, anonymous_client):
    delivery = _sent_sms(tenant, http_sink)
    response = _callback(anonymous_client, {"MessageSid": delivery.provider_message_id,
                                            "MessageStatus": "delivered"})
    assert response.status_code == 200, response.content
    assert response.json() == {"state": "delivered", "changed": True}
    delivery.refresh_from_db()
    assert delivery.state == "delivered" and delivery.delivered_at is not None
    again = _callback(anonymous_client, {"MessageSid": delivery.provider_message_id,
                                         "MessageStatus": "sent"})
    assert again.json()["changed"] is False


def test_an_undelivered_report_fails_the_sms_and_suppresses_an_unreachable_number(
        tenant, http_sink, anonymous_client):
    delivery = _sent_sms(tenant, http_sink)
    response = _callback(anonymous_client, {"MessageSid": delivery.provider_message_id,
                                            "MessageStatus": "undelivered",
                                            "ErrorCode": "30005"})
    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.state == "failed" and "30005" in delivery.reason
    assert Suppression.objects.filter(channel="sms").exists()


def test_status_callbacks_with_a_bad_signature_or_unknown_id_are_refused(tenant, http_sink,
                                                                         anonymous_client):
    delivery = _sent_sms(tenant, http_sink)
    forged = _callback(anonymous_client, {"MessageSid": delivery.provider_message_id,
                                          "MessageStatus": "delivered"}, secret="guess")
    assert forged.status_code == 403
    unknown = _callback(anonymous_client, {"MessageSid": "SMnope", "MessageStatus": "failed"})
    assert unknown.status_code == 404
    missing = _callback(anonymous_client, {"MessageStatus": "failed"})
    assert missing.status_code == 400 and "MessageSid" in missing.content.decode()
    delivery.refresh_from_db()
    assert delivery.state == "sent"


def test_the_status_callback_checks_the_signature_before_looking_anything_up(
        tenant, other_tenant, http_sink, anonymous_client, django_assert_max_num_queries):
    """Unsigned, a known id, an unknown id and a malformed body get the same 403: nobody
    learns which message ids exist. Signed by another organisation, a known id is a 404."""
    delivery = _sent_sms(tenant, http_sink)
    for payload in ({"MessageSid": delivery.provider_message_id, "MessageStatus": "failed"},
                    {"MessageSid": "SMnope", "MessageStatus": "failed"},
                    {"MessageStatus": "nonsense"}):
        with django_assert_max_num_queries(1):  # the channel secrets only, no delivery
            response = _callback(anonymous_client, payload, secret="guess")
        assert response.status_code == 403, payload
    channel_config(other_tenant.organisation, "sms",
                   settings={"base_url": http_sink.url, "account_sid": "AC9",
                             "from_number": "+447700900001"},
                   secrets={"auth_token": "t", "callback_secret": "other-secret"})
    theirs = _callback(anonymous_client, {"MessageSid": delivery.provider_message_id,
                                          "MessageStatus": "failed"}, secret="other-secret")
    assert theirs.status_code == 404
    delivery.refresh_from_db()
    assert delivery.state == "sent"
