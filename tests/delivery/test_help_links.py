"""Help links in scheduled messages go through the signed /go/ redirect, per person."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from campaigns.models import Message
from delivery.fanout import schedule_fan_out
from delivery.models import Delivery
from evaluation.models import Outcome
from tests.delivery.factories import (
    channel_config,
    help_resource,
    recipients,
    send_until_idle,
    sending_campaign,
)

pytestmark = pytest.mark.django_db

LINKED_BODY = ("Confidential help: {% for resource in help_resources %}{{ resource.url }} "
               "{% endfor %}\n\nStop these messages: {{ opt_out_link }}")


def test_each_email_links_to_help_through_a_link_signed_for_its_own_exposure(
        tenant, smtp_sink, client):
    help_resource(tenant.organisation)
    recipients(tenant.organisation, 3)
    built = sending_campaign(tenant.organisation)
    Message.objects.filter(arms__campaign=built.campaign).update(body=LINKED_BODY)
    channel_config(tenant.organisation, settings={"host": "127.0.0.1", "port": smtp_sink.port,
                                                  "from_email": "help@example.org"})
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    assert send_until_idle().sent == 3

    links = [re.findall(r"https?://\S+/go/\S+", text) for text in smtp_sink.recorder.texts]
    assert all(len(found) == 1 for found in links), smtp_sink.recorder.texts
    assert len({found[0] for found in links}) == 3  # one link per person

    first_link = links[0][0]
    message_id = smtp_sink.recorder.headers[0]["Message-ID"]
    delivery = Delivery.objects.get(pk=message_id.strip("<>").split("@")[0][len("delivery-"):])
    response = client.get(urlsplit(first_link).path, HTTP_USER_AGENT="Mozilla/5.0")
    assert response.status_code == 302
    click = Outcome.objects.get(kind="help_click")
    assert click.exposure_id == delivery.exposure_id == delivery.pk
