"""The person's JSON endpoints (no account, no cookie) and the counsellor console (staff only)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from helpline import services
from helpline.models import Conversation
from tests.helpline.factories import helpline_world

pytestmark = pytest.mark.usefixtures("postgres")


def post(client: Client, url: str, body: object, token: str | None = None, **extra: str):  # type: ignore[no-untyped-def]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(url, json.dumps(body), content_type="application/json", **headers,
                       **extra)


def start(client: Client, slug: str = "test-chat", **body: str):  # type: ignore[no-untyped-def]
    return post(client, f"/help/chat/{slug}/start", body)


def test_the_chat_page_sets_no_cookie_and_prefills_the_referral_code_from_a_signed_link(client):
    from interventions.links import via_token

    w = helpline_world()
    body = w.world.client().post("/api/v1/interventions", {
        "trigger": "search_blocked_term", "country": "GB", "language": "en",
        "session_id": "person-1"}, format="json").json()
    import uuid
    via = via_token(exposure_id=uuid.UUID(body["intervention_id"]),
                    resource_id=w.helpline.resource_id)
    response = client.get(f"/help/chat/test-chat/?via={via}")
    assert response.status_code == 200
    assert not response.cookies
    page = response.content.decode()
    assert w.world.campaign.referral_code in page and "Leave quickly" in page
    assert "<script src=" not in page  # no third-party (or any external) script
    tampered = client.get("/help/chat/test-chat/?via=abc:def")
    assert tampered.status_code == 200
    assert w.world.campaign.referral_code not in tampered.content.decode()


def test_a_person_starts_polls_and_writes_with_the_token_only(client):
    w = helpline_world()
    response = start(client, caller_type="someone_else")
    assert response.status_code == 201 and not response.cookies
    body = response.json()
    assert body["state"] == "waiting" and body["queue_position"] == 1
    assert body["estimated_wait_minutes"] == 0
    token = body["token"]
    sent = post(client, "/help/conversation/messages", {"text": "<script>x</script> hi"}, token)
    assert sent.status_code == 201 and sent.json() == {"sequence": 1}
    poll = client.get("/help/conversation?after=0", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert poll.json()["messages"][0]["text"] == "<script>x</script> hi"
    assert poll["Cache-Control"] == "no-store"
    assert Conversation.objects.get().caller_type == "someone_else"
    assert w.helpline  # (used)


def test_a_tampered_or_missing_token_and_a_wrong_resume_code_are_404(client):
    helpline_world()
    token = start(client).json()["token"]
    for header in (f"Bearer {token[:-1]}{'0' if token[-1] != '0' else '1'}", "Bearer x", ""):
        assert client.get("/help/conversation", HTTP_AUTHORIZATION=header).status_code == 404
    assert post(client, "/help/chat/test-chat/resume", {"code": "acorn acorn acorn acorn acorn"}
                ).status_code == 404
    assert post(client, "/help/chat/test-chat/resume", {"code": 5}).status_code == 404
    assert client.get("/help/chat/nope/").status_code == 404


def test_a_resume_code_reopens_the_chat_with_a_new_token(client):
    helpline_world()
    first = start(client).json()
    post(client, "/help/conversation/messages", {"text": "before"}, first["token"])
    response = post(client, "/help/chat/test-chat/resume", {"code": first["resume_code"]})
    assert response.status_code == 200
    assert response.json()["messages"][0]["text"] == "before"
    assert client.get("/help/conversation", HTTP_AUTHORIZATION=f"Bearer {first['token']}"
                      ).status_code == 404


def test_bad_input_is_a_field_error_never_a_500(client):
    helpline_world()
    token = start(client).json()["token"]
    too_long = post(client, "/help/conversation/messages", {"text": "x" * 4001}, token)
    assert too_long.status_code == 413 and "4000" in too_long.json()["text"][0]
    assert post(client, "/help/conversation/messages", {"text": 5}, token).status_code == 400
    not_json = client.post("/help/conversation/messages", b"{", content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {token}")
    assert not_json.status_code == 400
    assert post(client, "/help/conversation/messages", [1], token).status_code == 400
    assert start(client, caller_type="robot").json() == {
        "caller_type": ["Use one of: own_thoughts, someone_else, professional, survivor, "
                        "other, not_said."]}
    assert client.get("/help/conversation?after=x",
                      HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 400


def test_messages_are_rate_limited_per_conversation(client, settings):
    settings.HELPLINE_MESSAGES_PER_WINDOW = 3
    helpline_world()
    token = start(client).json()["token"]
    codes = [post(client, "/help/conversation/messages", {"text": f"m{i}"}, token).status_code
             for i in range(5)]
    assert codes == [201, 201, 201, 429, 429]


def test_a_flood_of_new_conversations_from_one_address_is_throttled(client, settings):
    settings.HELPLINE_STARTS_PER_SOURCE_PER_HOUR = 2
    helpline_world(queue_limit=50)
    codes = [start(client).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    other = post(client, "/help/chat/test-chat/start", {}, REMOTE_ADDR="192.0.2.7")
    assert other.status_code == 201


def test_a_closed_helpline_answers_plainly_with_other_help_open_now(client):
    w = helpline_world()
    w.helpline.resource.opening_hours.all().delete()
    status = client.get("/help/chat/test-chat/status").json()
    assert (status["open"], status["accepting"], status["reason"]) == (False, False, "closed")
    names = {item["name"]: item for item in status["other_help"]}
    assert names["Stop It Now! helpline"]["phone"] == "+448081000900"  # open round the clock
    assert "Example line (hours unknown)" not in names  # a live line with unknown hours
    assert names["Troubled Desire"]["phone"] is None  # self-help: always listed
    refused = start(client)
    assert refused.status_code == 409 and refused.json()["reason"] == "closed"
    assert refused.json()["other_help"]


def test_the_status_endpoint_offers_chat_only_with_a_free_slot(client):
    w = helpline_world(chats_per_counsellor=1)
    assert client.get("/help/chat/test-chat/status").json()["chat_free_now"] is True
    start(client)
    status = client.get("/help/chat/test-chat/status").json()
    assert status["chat_free_now"] is False and status["accepting"] is True
    assert w.helpline


# --- console -----------------------------------------------------------------------------------

def login(client: Client, counsellor) -> Client:  # type: ignore[no-untyped-def]
    client.force_login(counsellor.user)
    return client


def test_the_console_needs_a_login_and_a_counsellor_role(client, outsider):
    helpline_world()
    assert client.get("/help/console/").status_code == 302
    client.force_login(outsider)
    assert client.get("/help/console/").status_code == 404
    assert client.get("/help/console/state").status_code == 404


def test_a_counsellor_claims_chats_and_ends_with_a_contact_record(client):
    w = helpline_world()
    token = start(Client()).json()["token"]
    login(client, w.counsellor)
    assert client.get("/help/console/").status_code == 200
    state = client.get("/help/console/state").json()
    assert len(state["queue"]) == 1 and state["live"] == [] and state["flags"] == []
    claimed = post(client, "/help/console/claim", {})
    conversation_id = claimed.json()["conversation"]
    url = f"/help/console/conversations/{conversation_id}"
    assert post(client, f"{url}/messages", {"text": "Hello, I am Sam."}).status_code == 201
    view = client.get(url).json()
    assert [m["text"] for m in view["messages"]][-1] == "Hello, I am Sam."
    assert view["legal_notice"]["jurisdiction"] == "GB-ENG"
    assert any("Stop It Now" in s["text"] for s in view["snippets"])
    ended = post(client, f"{url}/end", {"caller_type": "own_thoughts",
                                        "concerns": ["own_thoughts"], "offered": ["referral"]})
    assert ended.status_code == 201
    poll = Client().get("/help/conversation", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert poll["state"] == "ended"


def test_another_helplines_conversation_is_a_404_in_the_console(client):
    mine = helpline_world()
    theirs = helpline_world(slug="other-chat")
    theirs_conversation = services.conversation_start(helpline=theirs.helpline).conversation
    login(client, mine.supervisor)
    url = f"/help/console/conversations/{theirs_conversation.pk}"
    assert client.get(url).status_code == 404
    assert post(client, f"{url}/messages", {"text": "x"}).status_code == 404
    assert post(client, "/help/console/claim",
                {"conversation": str(theirs_conversation.pk)}).status_code == 404
    assert client.get("/help/console/conversations/not-a-uuid").status_code == 404


def test_a_counsellor_cannot_read_a_colleagues_chat_but_a_supervisor_can_and_reassigns(client):
    w = helpline_world()
    w.online(w.counsellor, w.colleague)
    conversation = services.conversation_start(helpline=w.helpline).conversation
    services.conversation_claim(counsellor=w.counsellor)
    url = f"/help/console/conversations/{conversation.pk}"
    assert login(Client(), w.colleague).get(url).status_code == 404
    supervisor = login(client, w.supervisor)
    assert supervisor.get(url).json()["mine"] is False
    assert len(supervisor.get("/help/console/state").json()["live"]) == 1
    assert post(supervisor, f"{url}/messages", {"text": "x"}).status_code == 403
    moved = post(supervisor, f"{url}/transfer", {"to": w.colleague.pk})
    assert moved.status_code == 200 and moved.json() == {"counsellor": "Alex"}
    assert post(supervisor, f"{url}/transfer", {"to": "x"}).status_code == 400


def test_flags_are_raised_by_counsellors_and_acknowledged_only_by_supervisors(client):
    w = helpline_world()
    conversation = services.conversation_start(helpline=w.helpline).conversation
    services.conversation_claim(counsellor=w.counsellor)
    counsellor = login(Client(), w.counsellor)
    raised = post(counsellor, f"/help/console/conversations/{conversation.pk}/flag",
                  {"category": "child_at_risk"})
    assert raised.status_code == 201
    flag = raised.json()["flag"]
    assert post(counsellor, f"/help/console/flags/{flag}/acknowledge", {}).status_code == 403
    supervisor = login(client, w.supervisor)
    assert supervisor.get("/help/console/state").json()["flags"][0]["id"] == flag
    assert post(supervisor, f"/help/console/flags/{flag}/acknowledge", {}).status_code == 200
    assert post(supervisor, f"/help/console/flags/{flag}/acknowledge", {}).status_code == 409
    other = helpline_world(slug="other-chat")
    assert post(login(Client(), other.supervisor), f"/help/console/flags/{flag}/acknowledge",
                {}).status_code == 404


def test_the_web_components_status_by_resource_id_and_a_resource_not_hosted_is_404(client):
    w = helpline_world()
    status = client.get(f"/help/resource/{w.helpline.resource_id}/status")
    assert status.json()["chat_free_now"] is True
    assert status["Access-Control-Allow-Origin"] == "*" and not status.cookies
    assert client.get(f"/help/resource/{w.world.resources['always'].pk}/status"
                      ).status_code == 404
    w.counsellor.presence = "offline"
    w.counsellor.save()
    assert client.get(f"/help/resource/{w.helpline.resource_id}/status"
                      ).json()["chat_free_now"] is False
