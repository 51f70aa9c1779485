"""Signed one-click opt-out links (RFC 8058) for email and SMS."""

from __future__ import annotations

import pytest
from django.test import Client

from segments.models import Suppression
from segments.optout import opt_out_token, opt_out_url
from segments.recipients import recipient_erase
from segments.selectors import recipient_suppressed
from tests.segments.factories import SYSTEM, recipient

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscribed(tenant):
    return recipient(tenant.organisation, email="ann@example.org", phone="+447700900123")


def test_the_link_is_absolute_and_names_no_contact_detail(subscribed, settings) -> None:
    settings.PUBLIC_BASE_URL = "https://outreach.example.org"
    url = opt_out_url(recipient=subscribed, channel="email")
    assert url.startswith("https://outreach.example.org/opt-out/")
    assert "ann" not in url and "example.org/opt-out/" in url


def test_opening_the_link_only_asks_for_confirmation(subscribed) -> None:
    token = opt_out_token(recipient=subscribed, channel="email")
    response = Client().get(f"/opt-out/{token}")
    assert response.status_code == 200
    assert b"Unsubscribe" in response.content
    assert not Suppression.objects.exists()


def test_a_one_click_post_unsubscribes_without_a_page_or_cookie(subscribed) -> None:
    token = opt_out_token(recipient=subscribed, channel="email")
    client = Client(enforce_csrf_checks=True)
    response = client.post(f"/opt-out/{token}", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert recipient_suppressed(recipient=subscribed, channel="email")
    assert not recipient_suppressed(recipient=subscribed, channel="sms")
    assert Suppression.objects.get().reason == "unsubscribed"


def test_clicking_twice_is_harmless(subscribed) -> None:
    token = opt_out_token(recipient=subscribed, channel="sms")
    for _ in range(2):
        assert Client().post(f"/opt-out/{token}").status_code == 200
    assert Suppression.objects.count() == 1


def test_a_tampered_token_is_refused(subscribed) -> None:
    token = opt_out_token(recipient=subscribed, channel="email")
    response = Client().post(f"/opt-out/{token[:-2]}xx")
    assert response.status_code == 404
    assert not Suppression.objects.exists()


def test_the_link_of_an_erased_recipient_still_answers_politely(subscribed) -> None:
    token = opt_out_token(recipient=subscribed, channel="email")
    recipient_erase(recipient=subscribed, actor=SYSTEM)
    assert Client().post(f"/opt-out/{token}").status_code == 200
