"""Anonymity as a mechanism: after a whole conversation, no table and no captured log line holds
the message text, the person's IP address or user agent, their token or their resume code."""

from __future__ import annotations

import json
import logging

import pytest
from django.db import connection
from django.test import Client

from tests.helpline.factories import helpline_world
from tests.interventions.test_demo_and_privacy import all_text_containing

pytestmark = [pytest.mark.usefixtures("postgres", "redis_url"),
              pytest.mark.django_db(transaction=True)]

ADDRESS = "198.51.100.77"
AGENT = "PrivacyProbeAgent/9.9"
SECRET_TEXT = "zebrafinch-unique-message-text"
NOTE_TEXT = "kingfisher-unique-note-text"


def test_no_message_text_address_agent_token_or_resume_code_is_stored_or_logged(caplog):
    w = helpline_world()
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    connection.force_debug_cursor = True  # log every SQL statement with its parameters
    try:
        person = Client(REMOTE_ADDR=ADDRESS, HTTP_USER_AGENT=AGENT)
        started = person.post("/help/chat/test-chat/start", json.dumps({}),
                              content_type="application/json").json()
        auth = {"HTTP_AUTHORIZATION": f"Bearer {started['token']}"}
        person.post("/help/conversation/messages", json.dumps({"text": SECRET_TEXT}),
                    content_type="application/json", **auth)
        person.get("/help/conversation?after=0", **auth)
        person.get("/help/conversation", HTTP_AUTHORIZATION="Bearer " + "0" * 64)
        staff = Client()
        staff.force_login(w.counsellor.user)
        conversation_id = staff.post("/help/console/claim", "{}",
                                     content_type="application/json").json()["conversation"]
        url = f"/help/console/conversations/{conversation_id}"
        staff.post(f"{url}/messages", json.dumps({"text": SECRET_TEXT + "-reply"}),
                   content_type="application/json")
        staff.get(url)
        staff.post(f"{url}/end", json.dumps({"caller_type": "other", "concerns": [],
                                             "offered": [], "note": NOTE_TEXT}),
                   content_type="application/json")
        person.post("/help/chat/test-chat/resume",
                    json.dumps({"code": started["resume_code"]}),
                    content_type="application/json")
    finally:
        connection.force_debug_cursor = False
    assert any("helpline_message" in r.getMessage() for r in caplog.records)  # SQL was logged
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for needle in (SECRET_TEXT, NOTE_TEXT, ADDRESS, AGENT, started["token"],
                   started["resume_code"]):
        assert all_text_containing(needle) == [], needle
        assert needle not in logged, needle


def test_the_flood_counters_in_redis_hold_an_hmac_of_the_address_not_the_address():
    import redis
    from django.conf import settings

    helpline_world()
    Client(REMOTE_ADDR=ADDRESS).post("/help/chat/test-chat/start", "{}",
                                     content_type="application/json")
    if not settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        pytest.skip("the cache is not Redis here")
    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    keys = [key.decode() for key in client.keys("*helpline:start:*")]
    assert keys and not any(ADDRESS in key for key in keys)
    import hashlib

    plain = hashlib.sha256(ADDRESS.encode()).hexdigest()[:32]
    assert not any(plain in key for key in keys)
    day_keys = client.keys("*helpline:source-key:*")
    assert day_keys and 0 < client.ttl(day_keys[0]) <= 2 * 24 * 3600
