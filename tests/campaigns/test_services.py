"""The campaign lifecycle, four eyes, frozen content and the launch gate."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns import authoring, content, launch, lifecycle
from campaigns.models import Campaign
from core.errors import Conflict, InvalidInput
from organisations.models import AuditEvent
from organisations.services import Actor, partnership_set
from tests.campaigns.factories import approve, build_campaign
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db


def actions(campaign: Campaign) -> list[str]:
    return list(AuditEvent.objects.filter(object_type="campaigns.Campaign",
                                          object_id=str(campaign.pk))
                .order_by("at", "pk").values_list("action", flat=True))


def test_a_campaign_goes_from_draft_to_running_through_services_with_an_audit_row_each(
        built, tenant) -> None:
    campaign = approve(built, tenant)
    lifecycle.campaign_schedule(campaign=campaign, actor=Actor(user=tenant.manager))
    lifecycle.campaign_start(campaign=campaign, actor=Actor.system())
    lifecycle.campaign_pause(campaign=campaign, actor=Actor(user=tenant.manager))
    lifecycle.campaign_resume(campaign=campaign, actor=Actor(user=tenant.manager))
    lifecycle.campaign_complete(campaign=campaign, actor=Actor(user=tenant.manager))
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    assert actions(campaign)[-7:] == [
        "campaign.submit", "campaign.approve", "campaign.schedule", "campaign.start",
        "campaign.pause", "campaign.resume", "campaign.complete"]


def test_the_author_cannot_approve_their_own_campaign(built, tenant) -> None:
    lifecycle.campaign_submit(campaign=built.campaign, actor=Actor(user=tenant.manager))
    with pytest.raises(lifecycle.NotAllowed, match="author"):
        lifecycle.campaign_approve(campaign=built.campaign, actor=Actor(user=tenant.manager))
    built.campaign.refresh_from_db()
    assert built.campaign.status == "in_review"


def test_the_submitter_cannot_approve_either(built, tenant) -> None:
    lifecycle.campaign_submit(campaign=built.campaign, actor=Actor(user=tenant.reviewer))
    with pytest.raises(lifecycle.NotAllowed, match="four eyes"):
        lifecycle.campaign_approve(campaign=built.campaign, actor=Actor(user=tenant.reviewer))


def test_a_viewer_or_another_organisations_reviewer_cannot_approve(built, tenant,
                                                                   other_tenant) -> None:
    viewer = UserFactory(username="viewer")
    MembershipFactory(user=viewer, organisation=tenant.organisation, role="viewer")
    lifecycle.campaign_submit(campaign=built.campaign, actor=Actor(user=tenant.manager))
    for user in (viewer, other_tenant.reviewer):
        with pytest.raises(lifecycle.NotAllowed, match="reviewer or manager"):
            lifecycle.campaign_approve(campaign=built.campaign, actor=Actor(user=user))


def test_an_api_key_cannot_approve(built, tenant) -> None:
    lifecycle.campaign_submit(campaign=built.campaign, actor=Actor(user=tenant.manager))
    with pytest.raises(lifecycle.NotAllowed, match="signed-in"):
        lifecycle.campaign_approve(campaign=built.campaign, actor=Actor(api_key=tenant.api_key))


def test_approval_freezes_a_hash_and_snapshot_of_the_content(built, tenant) -> None:
    campaign = approve(built, tenant)
    campaign.refresh_from_db()
    assert campaign.approved_by == tenant.reviewer
    assert campaign.content_hash == content.campaign_content_hash(campaign)
    assert [arm["name"] for arm in campaign.approved_snapshot["arms"]] == \
        ["legal", "help", "holdout"]


def test_editing_an_approved_campaign_returns_it_to_draft(built, tenant) -> None:
    campaign = approve(built, tenant)
    authoring.campaign_update(campaign=campaign, actor=Actor(user=tenant.manager),
                             objective="A new objective")
    campaign.refresh_from_db()
    assert campaign.status == "draft"
    assert campaign.content_hash == ""
    assert actions(campaign)[-1] == "campaign.revise"


def test_editing_a_message_used_by_an_approved_campaign_returns_it_to_draft(built,
                                                                             tenant) -> None:
    campaign = approve(built, tenant)
    message = campaign.arms.get(name="legal").messages.get()
    authoring.message_update(message=message, actor=Actor(user=tenant.manager),
                            body="Changed text. {{ help_link }}")
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_editing_a_running_campaign_is_refused_with_its_state(built, tenant) -> None:
    campaign = approve(built, tenant)
    lifecycle.campaign_schedule(campaign=campaign, actor=Actor(user=tenant.manager))
    with pytest.raises(Conflict) as error:
        authoring.campaign_update(campaign=campaign, actor=Actor(user=tenant.manager),
                                 name="Renamed")
    assert error.value.details["current_state"] == "scheduled"
    message = campaign.arms.get(name="help").messages.get()
    with pytest.raises(Conflict, match="live campaigns"):
        authoring.message_update(message=message, actor=Actor(user=tenant.manager), body="x")


def test_transitions_out_of_order_are_refused_naming_the_current_state(built, tenant) -> None:
    with pytest.raises(Conflict) as error:
        lifecycle.campaign_schedule(campaign=built.campaign, actor=Actor(user=tenant.manager))
    assert str(error.value) == "cannot schedule a campaign that is draft"
    assert error.value.as_dict() == {"detail": "cannot schedule a campaign that is draft",
                                     "current_state": "draft"}
    with pytest.raises(Conflict, match="cannot pause a campaign that is draft"):
        lifecycle.campaign_pause(campaign=built.campaign, actor=Actor(user=tenant.manager))


def test_a_stale_copy_cannot_win_a_second_transition(built, tenant) -> None:
    campaign = approve(built, tenant)
    stale = Campaign.objects.get(pk=campaign.pk)
    lifecycle.campaign_cancel(campaign=campaign, actor=Actor(user=tenant.manager))
    with pytest.raises(Conflict, match="that is cancelled") as error:
        lifecycle.campaign_schedule(campaign=stale, actor=Actor(user=tenant.manager))
    assert error.value.details["current_state"] == "cancelled"


def test_rejecting_returns_the_campaign_to_draft(built, tenant) -> None:
    lifecycle.campaign_submit(campaign=built.campaign, actor=Actor(user=tenant.manager))
    lifecycle.campaign_reject(campaign=built.campaign, actor=Actor(user=tenant.reviewer),
                             reason="Add a Welsh version")
    built.campaign.refresh_from_db()
    assert built.campaign.status == "draft"
    event = AuditEvent.objects.filter(action="campaign.reject").get()
    assert event.changes["reason"] == "Add a Welsh version"


# --- launch gate ------------------------------------------------------------------------------

def test_the_launch_gate_passes_a_complete_campaign(built, tenant) -> None:
    campaign = approve(built, tenant)
    assert launch.launch_problems(campaign) == []


def test_the_launch_gate_names_a_stale_help_resource(built, tenant) -> None:
    campaign = approve(built, tenant)
    resource = built.resource
    resource.confirmed_at = timezone.now() - timedelta(days=400)
    resource.save()
    with pytest.raises(InvalidInput) as error:
        lifecycle.campaign_schedule(campaign=campaign, actor=Actor(user=tenant.manager))
    problems = error.value.details["problems"]
    assert f"Help resource 'Stop It Now helpline' ({resource.slug}) is stale" in problems[0]
    assert "No confirmed help resource in GB in 'en' for the at_risk audience" in problems[1]
    campaign.refresh_from_db()
    assert campaign.status == "approved"


def test_the_launch_gate_names_an_unconfirmed_help_resource(built, tenant) -> None:
    from tests.directory.factories import HelpResourceFactory

    HelpResourceFactory(organisation=tenant.organisation, name="New line", slug="new-line")
    problems = launch.launch_problems(approve(built, tenant))
    assert problems == ["Help resource 'New line' (new-line) is unconfirmed: confirm its "
                        "contact details in the directory."]


def test_the_launch_gate_names_a_missing_language(built, tenant) -> None:
    authoring.campaign_update(campaign=built.campaign, actor=Actor(user=tenant.manager),
                             languages=["en", "cy"])
    problems = launch.launch_problems(built.campaign)
    assert "Arm 'legal' has no email message in 'cy', a language its audience needs." in problems
    assert "Arm 'help' has no email message in 'cy', a language its audience needs." in problems


def test_the_launch_gate_refuses_a_campaign_without_arms(tenant) -> None:
    campaign = authoring.campaign_create(organisation=tenant.organisation,
                                        actor=Actor(user=tenant.manager), name="Bare",
                                        channels=["email"], countries=["GB"], languages=["en"])
    problems = launch.launch_problems(campaign)
    assert problems[0].startswith("No evaluation arms are defined")
    assert "No flight (active date range) is defined." in problems


def test_the_launch_gate_refuses_content_changed_behind_the_reviewers_back(built,
                                                                            tenant) -> None:
    campaign = approve(built, tenant)
    campaign.arms.filter(name="legal").update(weight=Decimal(80))  # bypassing the services
    assert launch.launch_problems(campaign)[0] == \
        "The content changed after approval: submit it for review again."


def test_scheduling_sets_the_next_fire_time_and_pausing_clears_it(built, tenant) -> None:
    campaign = approve(built, tenant)
    lifecycle.campaign_schedule(campaign=campaign, actor=Actor(user=tenant.manager))
    schedule = campaign.schedules.get()
    assert schedule.next_fire_at == schedule.send_at
    lifecycle.campaign_start(campaign=campaign, actor=Actor.system())
    lifecycle.campaign_pause(campaign=campaign, actor=Actor(user=tenant.manager))
    schedule.refresh_from_db()
    assert schedule.next_fire_at is None


def test_the_sweep_starts_scheduled_campaigns_whose_flight_began(built, tenant) -> None:
    campaign = approve(built, tenant)
    lifecycle.campaign_schedule(campaign=campaign, actor=Actor(user=tenant.manager))
    assert lifecycle.campaign_sweep() == {"started": 1, "completed": 0}
    campaign.refresh_from_db()
    assert campaign.status == "running"
    later = timezone.now() + timedelta(days=31)
    assert lifecycle.campaign_sweep(now=later) == {"started": 0, "completed": 1}


# --- bad input --------------------------------------------------------------------------------

def test_weights_that_allocate_nobody_are_refused(tenant) -> None:
    manager = Actor(user=tenant.manager)
    campaign = authoring.campaign_create(organisation=tenant.organisation, actor=manager,
                                        name="Weights", channels=["email"])
    with pytest.raises(InvalidInput, match="add up to 0"):
        authoring.arm_save(campaign=campaign, actor=manager, name="a", weight=0)
    authoring.arm_save(campaign=campaign, actor=manager, name="hold", kind="holdout", weight=1)
    with pytest.raises(InvalidInput, match="Every weight is on the holdout"):
        authoring.arm_save(campaign=campaign, actor=manager, name="b", weight=0)
    with pytest.raises(InvalidInput, match="between 0 and 999") as error:
        authoring.arm_save(campaign=campaign, actor=manager, name="c", weight=-1)
    assert error.value.field == "weight"
    with pytest.raises(InvalidInput, match="at most one holdout"):
        authoring.arm_save(campaign=campaign, actor=manager, name="d", kind="holdout", weight=1)


def test_a_holdout_arm_cannot_carry_a_message(built, tenant) -> None:
    message = built.campaign.arms.get(name="legal").messages.get()
    with pytest.raises(InvalidInput, match="holdout arm shows no message"):
        authoring.arm_save(campaign=built.campaign, actor=Actor(user=tenant.manager),
                          arm=built.campaign.arms.get(name="holdout"), name="holdout",
                          kind="holdout", weight=10, messages=[message])


def test_a_message_with_an_unknown_variable_is_refused(tenant) -> None:
    with pytest.raises(InvalidInput, match="unknown variable 'first_name'") as error:
        authoring.message_create(organisation=tenant.organisation,
                                actor=Actor(user=tenant.manager), name="Bad", channel="sms",
                                language="en", framing="neutral_control",
                                body="Hello {{ first_name }}")
    assert error.value.field == "body"


def test_a_schedule_in_the_past_is_refused(built, tenant) -> None:
    with pytest.raises(InvalidInput, match="in the past") as error:
        authoring.schedule_save(campaign=built.campaign, actor=Actor(user=tenant.manager),
                               kind="one_off", channel="email",
                               send_at=timezone.now() - timedelta(minutes=1))
    assert error.value.field == "send_at"


def test_a_window_with_no_allowed_hour_is_refused(built, tenant) -> None:
    from datetime import time

    with pytest.raises(InvalidInput, match="allows no hour") as error:
        authoring.schedule_save(campaign=built.campaign, actor=Actor(user=tenant.manager),
                               kind="relative", channel="email",
                               relative_attribute="release_date", offset_days=7,
                               time_of_day=time(10), window_start=time(9),
                               window_end=time(9))
    assert error.value.field == "window_end"


def test_overlapping_namespace_slices_are_refused(tenant) -> None:
    manager = Actor(user=tenant.manager)
    authoring.campaign_create(organisation=tenant.organisation, actor=manager, name="A",
                             assignment_namespace="ns", namespace_offset="0",
                             namespace_share="0.6")
    with pytest.raises(InvalidInput, match="overlaps campaign 'A'"):
        authoring.campaign_create(organisation=tenant.organisation, actor=manager, name="B",
                                 assignment_namespace="ns", namespace_offset="0.5",
                                 namespace_share="0.5")
    authoring.campaign_create(organisation=tenant.organisation, actor=manager, name="C",
                             assignment_namespace="ns", namespace_offset="0.6",
                             namespace_share="0.4")


def test_a_partner_must_be_in_partnership_to_be_enrolled(tenant) -> None:
    platform = OrganisationFactory(name="Search platform", kind="partner_platform")
    manager = Actor(user=tenant.manager)
    with pytest.raises(InvalidInput, match="Unknown partner") as refused:
        authoring.campaign_create(organisation=tenant.organisation, actor=manager, name="P",
                                 partners=[platform])
    assert "Search platform" not in str(refused.value)  # its display name does not leak
    partnership_set(programme=tenant.organisation, partner=platform, triggers=[],
                    actor=manager)
    campaign = authoring.campaign_create(organisation=tenant.organisation, actor=manager,
                                        name="P", partners=[platform])
    assert list(campaign.partners.all()) == [platform]


def test_only_programme_organisations_author_campaigns(tenant) -> None:
    platform = OrganisationFactory(name="Platform", kind="partner_platform")
    with pytest.raises(lifecycle.NotAllowed):
        authoring.campaign_create(organisation=platform, actor=Actor.system(), name="x")


def test_a_second_campaign_can_be_built_in_the_same_organisation(tenant) -> None:
    second = build_campaign(tenant, name="Second")
    assert second.campaign.arms.count() == 3


def test_the_launch_gate_names_a_schedule_on_a_channel_the_campaign_dropped(built,
                                                                             tenant) -> None:
    manager = Actor(user=tenant.manager)
    authoring.campaign_update(campaign=built.campaign, actor=manager,
                             channels=["email", "sms"])
    schedule = authoring.schedule_save(campaign=built.campaign, actor=manager, kind="one_off",
                                      channel="sms",
                                      send_at=timezone.now() + timedelta(days=2))
    authoring.campaign_update(campaign=built.campaign, actor=manager, channels=["email"])
    problems = launch.launch_problems(built.campaign)
    assert f"Schedule {schedule.pk} sends by sms, which the campaign does not use." in problems
