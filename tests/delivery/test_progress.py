"""Sending progress: the progress API (scoped, disclosure-controlled) and the admin progress
page with pause and resume."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from delivery.fanout import schedule_fan_out
from tests.delivery.factories import channel_config, recipients, send_until_idle, sending_campaign

pytestmark = pytest.mark.django_db


def test_progress_needs_a_key_the_scope_and_the_campaigns_organisation(tenant, other_tenant,
                                                                      anonymous_client,
                                                                      smtp_sink):
    recipients(tenant.organisation, 12)
    built = sending_campaign(tenant.organisation)
    channel_config(tenant.organisation, settings={"host": "127.0.0.1", "port": smtp_sink.port})
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    send_until_idle()
    url = f"/api/v1/campaigns/{built.campaign.pk}/progress"
    assert anonymous_client.get(url).status_code == 401
    lacking = tenant.client(tenant.key_with("segments:read"))
    assert lacking.get(url).status_code == 403
    assert other_tenant.client().get(url).status_code == 404
    assert tenant.client().get("/api/v1/campaigns/nonsense/progress").status_code == 404
    response = tenant.client(tenant.key_with("campaigns:read")).get(url)
    assert response.status_code == 200
    body = response.json()
    assert body["counts"]["sent"] == "10"  # 12, rounded to 5 by disclosure control
    assert body["counts"]["failed"] == "0" and body["status"] == "running"


def test_small_progress_counts_are_suppressed(tenant, smtp_sink):
    recipients(tenant.organisation, 3)
    built = sending_campaign(tenant.organisation)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    body = tenant.client().get(f"/api/v1/campaigns/{built.campaign.pk}/progress").json()
    assert body["counts"]["queued"] == "<10" and body["done_percent"] is None


def test_a_manager_watches_progress_and_pauses_and_resumes_in_the_admin(tenant, client):
    from tests.delivery.factories import help_resource

    recipients(tenant.organisation, 3)
    help_resource(tenant.organisation)
    built = sending_campaign(tenant.organisation)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    client.force_login(tenant.manager)
    page = client.get(reverse("admin:delivery_campaign_progress", args=[built.campaign.pk]))
    assert page.status_code == 200
    assert b"Pause sending" in page.content and b"&lt;10" in page.content
    pause = reverse("admin:delivery_campaign_control", args=[built.campaign.pk, "pause"])
    assert client.post(pause).status_code == 302
    built.campaign.refresh_from_db()
    assert built.campaign.status == "paused"
    resume = reverse("admin:delivery_campaign_control", args=[built.campaign.pk, "resume"])
    client.post(resume)
    built.campaign.refresh_from_db()
    assert built.campaign.status == "running"


def test_another_organisations_manager_cannot_see_or_pause_our_campaign(tenant, other_tenant,
                                                                       client):
    built = sending_campaign(tenant.organisation)
    client.force_login(other_tenant.manager)
    page = client.get(reverse("admin:delivery_campaign_progress", args=[built.campaign.pk]))
    assert page.status_code == 404
    pause = reverse("admin:delivery_campaign_control", args=[built.campaign.pk, "pause"])
    assert client.post(pause).status_code == 404
    built.campaign.refresh_from_db()
    assert built.campaign.status == "running"


def test_a_reviewer_sees_progress_but_cannot_pause(tenant, client):
    built = sending_campaign(tenant.organisation)
    client.force_login(tenant.reviewer)
    page = client.get(reverse("admin:delivery_campaign_progress", args=[built.campaign.pk]))
    assert page.status_code == 200 and b"Pause sending" not in page.content
    pause = reverse("admin:delivery_campaign_control", args=[built.campaign.pk, "pause"])
    assert client.post(pause).status_code == 403
