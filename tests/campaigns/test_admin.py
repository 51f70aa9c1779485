"""The admin as programme managers and reviewers use it: build, submit, approve, gate, preview."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from campaigns.models import Campaign
from organisations.services import Actor
from tests.campaigns.factories import approve
from tests.directory.factories import HelpResourceFactory
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def management(prefix: str, total: int) -> dict:
    return {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}


def local(moment) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    moment = timezone.localtime(moment)
    return moment.strftime("%Y-%m-%d"), moment.strftime("%H:%M:%S")


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in response.context["messages"]]


def create_messages(client: Client) -> list[int]:
    ids = []
    for framing in ("legal_deterrence", "help_therapeutic"):
        response = client.post("/admin/campaigns/message/add/", {
            "name": f"UK {framing}", "channel": "email", "language": "en",
            "framing": framing, "polarity": "neutral", "subject": "Confidential help",
            "body": "<p>Confidential help is available.</p>"
                    '<p><a href="{{ help_link }}">Talk to someone</a></p>'})
        assert response.status_code == 302, response.context["adminform"].form.errors
    from campaigns.models import Message

    ids = list(Message.objects.order_by("pk").values_list("pk", flat=True))
    return ids


def build_in_admin(client: Client) -> Campaign:
    legal, helpful = create_messages(client)
    start_day, start_time = local(timezone.now() - timedelta(hours=1))
    end_day, end_time = local(timezone.now() + timedelta(days=30))
    send_day, send_time = local(timezone.now() + timedelta(days=1))
    data = {
        "name": "UK signposting", "objective": "Signpost confidential help", "priority": "0",
        "channels": ["email"], "countries": "GB", "languages": "en",
        "frequency_cap_count": "1", "frequency_cap_days": "7", "design": "per_person",
        "assignment_namespace": "", "namespace_offset": "0", "namespace_share": "1",
        **management("flights", 1),
        "flights-0-starts_at_0": start_day, "flights-0-starts_at_1": start_time,
        "flights-0-ends_at_0": end_day, "flights-0-ends_at_1": end_time,
        **management("arms", 3),
        "arms-0-name": "legal", "arms-0-kind": "variant", "arms-0-weight": "45",
        "arms-0-messages": [str(legal)],
        "arms-1-name": "help", "arms-1-kind": "variant", "arms-1-weight": "45",
        "arms-1-messages": [str(helpful)],
        "arms-2-name": "holdout", "arms-2-kind": "holdout", "arms-2-weight": "10",
        **management("schedules", 1),
        "schedules-0-kind": "one_off", "schedules-0-channel": "email",
        "schedules-0-send_at_0": send_day, "schedules-0-send_at_1": send_time,
        "schedules-0-offset_days": "0",
    }
    response = client.post("/admin/campaigns/campaign/add/", data)
    assert response.status_code == 302, _errors(response)
    return Campaign.objects.get(name="UK signposting")


def _errors(response) -> object:  # type: ignore[no-untyped-def]
    context = response.context
    return (context["adminform"].form.errors,
            [formset.errors for formset in context["inline_admin_formsets"]],
            [formset.non_form_errors() for formset in context["inline_admin_formsets"]])


def press(client: Client, campaign: Campaign, action: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(f"/admin/campaigns/campaign/{campaign.pk}/transition/{action}/", data,
                       follow=True)


def test_a_manager_builds_a_campaign_and_a_second_user_approves_it_in_the_admin(tenant) -> None:
    resource = HelpResourceFactory(organisation=tenant.organisation,
                                   confirmed_at=timezone.now() - timedelta(days=1))
    manager = signed_in(tenant.manager)
    campaign = build_in_admin(manager)
    assert sorted((a.name, a.kind, str(a.weight)) for a in campaign.arms.all()) == [
        ("help", "variant", "45.0000"), ("holdout", "holdout", "10.0000"),
        ("legal", "variant", "45.0000")]
    assert campaign.created_by == tenant.manager
    page = manager.get(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    assert "Ready: nothing stops this campaign" in page.content.decode()

    press(manager, campaign, "submit")
    campaign.refresh_from_db()
    assert campaign.status == "in_review"

    refused = press(manager, campaign, "approve")
    assert any("author" in m for m in messages_of(refused))
    campaign.refresh_from_db()
    assert campaign.status == "in_review"

    reviewer = signed_in(tenant.reviewer)
    page = reviewer.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert 'name="transition-approve"' in page
    assert 'name="transition-schedule"' not in page
    approved = press(reviewer, campaign, "approve")
    assert "Done: the campaign is now Approved." in messages_of(approved)

    resource.confirmed_at = timezone.now() - timedelta(days=1000)
    resource.save()
    gated = press(manager, campaign, "schedule")
    texts = messages_of(gated)
    assert "The campaign cannot schedule yet:" in texts
    assert any(f"({resource.slug}) is stale" in t for t in texts)
    campaign.refresh_from_db()
    assert campaign.status == "approved"


def test_editing_an_approved_campaign_in_the_admin_returns_it_to_draft(built, tenant) -> None:
    campaign = approve(built, tenant)
    client = signed_in(tenant.manager)
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data.update({"name": campaign.name, "objective": "A changed objective",
                 "channels": campaign.channels, "countries": "GB", "languages": "en",
                 "segments": [s.pk for s in campaign.segments.all()], "partners": []})
    for formset in page.context["inline_admin_formsets"]:
        management_form = formset.formset.management_form
        for name, field in management_form.fields.items():
            value = management_form.initial.get(name, field.initial)
            data[f"{formset.formset.prefix}-{name}"] = value
        for index, inline in enumerate(formset.formset.forms):
            for name in inline.fields:
                value = inline.initial.get(name)
                key = f"{formset.formset.prefix}-{index}-{name}"
                if hasattr(value, "pk"):
                    value = value.pk
                if name == "messages":
                    value = [m.pk for m in inline.instance.messages.all()]
                if name in ("starts_at", "ends_at", "send_at") and value:
                    day, clock = local(value)
                    data[f"{key}_0"], data[f"{key}_1"] = day, clock
                    continue
                if name == "id":
                    value = inline.instance.pk
                if name == "window_weekdays":
                    value = []
                if value is not None:
                    data[key] = value
    response = client.post(f"/admin/campaigns/campaign/{campaign.pk}/change/", data,
                           follow=True)
    assert response.status_code == 200
    campaign.refresh_from_db()
    assert campaign.objective == "A changed objective", _errors(response) \
        if response.context and "adminform" in response.context else response
    assert campaign.status == "draft"
    assert any("back in draft" in m for m in messages_of(response))


def test_a_scheduled_campaign_is_read_only_in_the_admin(built, tenant) -> None:
    from campaigns import lifecycle

    campaign = approve(built, tenant)
    lifecycle.campaign_schedule(campaign=campaign, actor=Actor(user=tenant.manager))
    page = signed_in(tenant.manager).get(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    form = page.context["adminform"].form
    assert "name" not in form.fields
    assert 'name="transition-start"' in page.content.decode()


def test_a_scheduled_campaign_links_to_its_sending_progress_and_report(built, tenant) -> None:
    from campaigns import lifecycle

    campaign = approve(built, tenant)
    lifecycle.campaign_schedule(campaign=campaign, actor=Actor(user=tenant.manager))
    client = signed_in(tenant.manager)
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    for link in (f"/admin/delivery/delivery/campaign/{campaign.pk}/progress/",
                 f"/admin/evaluation/evaluationplan/campaign/{campaign.pk}/report/"):
        assert link in page
        assert client.get(link).status_code == 200


def test_another_organisations_campaign_is_not_found_in_the_admin(built, other_tenant) -> None:
    client = signed_in(other_tenant.manager)
    assert client.get(f"/admin/campaigns/campaign/{built.campaign.pk}/change/").status_code \
        in (302, 404)
    response = press(client, built.campaign, "submit")
    assert response.status_code == 404
    built.campaign.refresh_from_db()
    assert built.campaign.status == "draft"


def test_a_viewer_sees_campaigns_but_gets_no_buttons(built, tenant) -> None:
    viewer = UserFactory(username="viewer-user")
    MembershipFactory(user=viewer, organisation=tenant.organisation, role="viewer")
    client = signed_in(viewer)
    page = client.get(f"/admin/campaigns/campaign/{built.campaign.pk}/change/")
    assert page.status_code == 200
    assert "transition-" not in page.content.decode()
    press(client, built.campaign, "submit")
    built.campaign.refresh_from_db()
    assert built.campaign.status == "draft"


def test_a_message_with_an_unknown_variable_is_refused_in_the_admin(tenant) -> None:
    response = signed_in(tenant.manager).post("/admin/campaigns/message/add/", {
        "name": "Bad", "channel": "sms", "language": "en", "framing": "neutral_control",
        "polarity": "neutral", "subject": "", "body": "Hello {{ first_name }}"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["body"] == [
        "unknown variable 'first_name'"]


def test_the_message_preview_shows_subject_html_text_and_sms_segments(built, tenant) -> None:
    message = built.campaign.arms.get(name="help").messages.get()
    page = signed_in(tenant.manager).get(
        f"/admin/campaigns/message/{message.pk}/change/?preview_country=GB&preview_stage=at_risk")
    html = page.content.decode()
    preview = page.context["preview"]
    assert preview.subject == "Confidential help is available"
    assert "https://help.example.org/" in preview.text
    assert preview.sms_segments == 1
    assert "Stop It Now helpline" in html
    assert 'sandbox=""' in html
    sample = signed_in(tenant.manager).get(
        f"/admin/campaigns/message/{message.pk}/change/?preview_source=sample")
    assert "https://example.org/go/sample" in sample.context["preview"].text
    assert signed_in(tenant.manager).get("/admin/campaigns/message/preview-sample/") \
        .status_code == 200


def test_a_running_campaign_reads_well_and_offers_no_save(built, tenant) -> None:
    from campaigns import lifecycle

    campaign = approve(built, tenant)
    lifecycle.campaign_schedule(campaign=campaign, actor=Actor(user=tenant.manager))
    lifecycle.campaign_start(campaign=campaign, actor=Actor(user=tenant.manager))
    client = signed_in(tenant.manager)
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    html = page.content.decode()
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert 'name="transition-pause"' in html
    assert '["' not in html.split('id="campaign-lifecycle"')[1]  # no raw JSON lists
    assert not re.search(r'(value="|>)\d+\.0000', html)  # 30, not "30.0000"
    assert "Watch sending progress" in html  # the next step
    assert "arms," in html and "schedules" in html  # the content counts
    listing = client.get("/admin/campaigns/campaign/").content.decode()
    assert "Watch sending progress" in listing


def test_a_draft_campaign_shows_weights_without_trailing_zeros(built, tenant) -> None:
    page = signed_in(tenant.manager).get(f"/admin/campaigns/campaign/{built.campaign.pk}/change/")
    html = page.content.decode()
    assert 'name="_save"' in html
    assert 'value="45"' in html
    assert not re.search(r'(value="|>)\d+\.0000', html)
