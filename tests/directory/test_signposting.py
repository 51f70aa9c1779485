from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from core.errors import InvalidInput
from directory.models import DirectoryPolicy, VerificationStatus
from directory.selectors import help_resources_for
from directory.services import help_resource_confirm, help_resource_update
from organisations.models import AuditEvent
from organisations.services import Actor, partnership_set
from tests.directory.factories import HelpResourceFactory, OpeningHoursFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 7, 6, 12, 0, tzinfo=UTC)  # a Monday, 13:00 in London


def confirmed(organisation, *, at=NOW - timedelta(days=1), **fields):
    resource = HelpResourceFactory(organisation=organisation, **fields)
    return help_resource_confirm(resource=resource, actor=Actor.system(), at=at)


def slugs(resources):
    return [r.slug for r in resources]


def signpost(organisation, **kwargs):
    kwargs.setdefault("country", "GB")
    kwargs.setdefault("language", "en")
    return help_resources_for(organisation=organisation, at=NOW, **kwargs)


def test_an_unconfirmed_record_is_excluded_by_default(tenant):
    resource = HelpResourceFactory(organisation=tenant.organisation)
    assert signpost(tenant.organisation) == []
    assert slugs(signpost(tenant.organisation, include_unconfirmed=True)) == [resource.slug]


def test_a_confirmation_becomes_stale_after_the_policy_window(tenant):
    fresh = confirmed(tenant.organisation, at=NOW - timedelta(days=364))
    old = confirmed(tenant.organisation, at=NOW - timedelta(days=366))
    assert fresh.verification_status(now=NOW) == VerificationStatus.CONFIRMED
    assert old.verification_status(now=NOW) == VerificationStatus.STALE
    assert slugs(signpost(tenant.organisation)) == [fresh.slug]


@override_settings(HELP_RESOURCE_STALE_AFTER_DAYS=30)
def test_the_window_comes_from_settings(tenant):
    resource = confirmed(tenant.organisation, at=NOW - timedelta(days=31))
    assert resource.verification_status(now=NOW) == VerificationStatus.STALE


def test_an_organisation_may_set_a_shorter_window(tenant, other_tenant):
    DirectoryPolicy.objects.create(organisation=tenant.organisation, stale_after_days=90)
    ours = confirmed(tenant.organisation, at=NOW - timedelta(days=100))
    theirs = confirmed(other_tenant.organisation, at=NOW - timedelta(days=100))
    assert ours.verification_status(now=NOW) == VerificationStatus.STALE
    assert theirs.verification_status(now=NOW) == VerificationStatus.CONFIRMED
    assert signpost(tenant.organisation) == []


def test_confirming_records_who_and_when_with_an_audit_row(tenant):
    resource = HelpResourceFactory(organisation=tenant.organisation)
    help_resource_confirm(resource=resource, actor=Actor(user=tenant.manager), at=NOW)
    resource.refresh_from_db()
    assert (resource.confirmed_by, resource.confirmed_at) == (tenant.manager, NOW)
    assert AuditEvent.objects.filter(action="help_resource.confirm",
                                     object_id=str(resource.pk),
                                     actor_user=tenant.manager).exists()


def test_changing_the_phone_number_withdraws_the_confirmation(tenant):
    resource = confirmed(tenant.organisation)
    help_resource_update(resource=resource, actor=Actor(user=tenant.manager),
                         phone="+441234567899")
    resource.refresh_from_db()
    assert resource.confirmed_at is None
    assert resource.verification_status(now=NOW) == VerificationStatus.NEEDS_VERIFICATION


def test_an_update_rejects_a_malformed_phone_number(tenant):
    resource = confirmed(tenant.organisation)
    with pytest.raises(InvalidInput) as error:
        help_resource_update(resource=resource, actor=Actor.system(), phone="0800 123")
    assert error.value.field == "phone"


def test_a_record_without_any_contact_route_is_not_displayable(tenant):
    resource = HelpResourceFactory(organisation=tenant.organisation, phone=None, url=None)
    assert resource.verification_status(now=NOW) == VerificationStatus.NOT_DISPLAYABLE
    assert signpost(tenant.organisation, include_unconfirmed=True) == []


def test_it_matches_the_country_or_worldwide_services(tenant):
    uk = confirmed(tenant.organisation, countries=["GB"])
    worldwide = confirmed(tenant.organisation, countries=["*"], kind="website", phone=None)
    confirmed(tenant.organisation, countries=["DE"])
    assert set(slugs(signpost(tenant.organisation, country="gb"))) == {uk.slug, worldwide.slug}


def test_services_in_the_requested_language_come_before_the_english_fallback(tenant):
    english = confirmed(tenant.organisation, countries=["DE"], languages=["en"], name="A")
    german = confirmed(tenant.organisation, countries=["DE"], languages=["de"], name="B")
    confirmed(tenant.organisation, countries=["DE"], languages=["fr"], name="C")
    results = signpost(tenant.organisation, country="DE", language="de")
    assert slugs(results) == [german.slug, english.slug]
    assert [r.language_fallback for r in results] == [False, True]


def test_an_audience_stage_maps_to_the_resource_audiences(tenant):
    for_self = confirmed(tenant.organisation, audiences=["at_risk_self"])
    for_family = confirmed(tenant.organisation, audiences=["survivor"])
    assert slugs(signpost(tenant.organisation, audience="offender")) == [for_self.slug]
    assert slugs(signpost(tenant.organisation, audience="concerned_other")) == [for_family.slug]
    assert slugs(signpost(tenant.organisation, audience="survivor")) == [for_family.slug]
    with pytest.raises(InvalidInput):
        signpost(tenant.organisation, audience="everyone")


def test_open_lines_come_first_then_hours_unknown_then_closed(tenant):
    closed = confirmed(tenant.organisation, name="A closed line", time_zone="Europe/London")
    OpeningHoursFactory(resource=closed, weekday=2, opens="09:00", closes="17:00")
    unknown = confirmed(tenant.organisation, name="B unknown hours")
    open_line = confirmed(tenant.organisation, name="C open line", time_zone="Europe/London")
    OpeningHoursFactory(resource=open_line, weekday=1, opens="09:00", closes="17:00")

    results = signpost(tenant.organisation)

    assert slugs(results) == [open_line.slug, unknown.slug, closed.slug]
    assert [r.open_now for r in results] == [True, None, False]


def test_a_partner_reads_its_programmes_directory_and_not_others(tenant, other_tenant):
    resource = confirmed(tenant.organisation)
    partner = other_tenant.organisation
    assert signpost(partner) == []
    partnership_set(programme=tenant.organisation, partner=partner, triggers=[],
                    actor=Actor.system())
    assert slugs(signpost(partner)) == [resource.slug]
    assert signpost(tenant.organisation)[0].slug == resource.slug


def test_the_callers_own_copy_wins_over_a_programmes_copy(tenant, other_tenant):
    partnership_set(programme=tenant.organisation, partner=other_tenant.organisation,
                    triggers=[], actor=Actor.system())
    confirmed(tenant.organisation, slug="shared-line", name="Programme copy")
    confirmed(other_tenant.organisation, slug="shared-line", name="Own copy")
    results = signpost(other_tenant.organisation)
    assert [r.name for r in results] == ["Own copy"]
