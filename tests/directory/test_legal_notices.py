import pytest

from directory.selectors import legal_notice_for
from directory.services import directory_import
from organisations.services import Actor, partnership_set
from tests.directory.factories import LegalNoticeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def imported(tenant, shared_data_dir):
    directory_import(organisation=tenant.organisation, data_dir=shared_data_dir,
                     actor=Actor.system())
    return tenant.organisation


def found(organisation, code):
    notice = legal_notice_for(organisation=organisation, jurisdiction=code)
    return notice.jurisdiction if notice else None


def test_it_finds_the_notice_for_england(imported):
    notice = legal_notice_for(organisation=imported, jurisdiction="GB-ENG")
    assert notice.jurisdiction == "GB-ENG"
    assert [s.section for s in notice.statutes.all()] == ["s.1(1)", "s.160"]


def test_wales_is_covered_by_the_england_notice_through_also_applies_to(imported):
    assert found(imported, "GB-WLS") == "GB-ENG"
    assert found(imported, "gb-wls") == "GB-ENG"


def test_a_sub_national_code_falls_back_to_its_country(imported):
    assert found(imported, "US-CA") == "US"
    assert found(imported, "DE-BE") == "DE"


def test_a_country_with_several_sub_national_notices_is_ambiguous(imported):
    assert found(imported, "GB") is None


def test_a_country_falls_back_to_its_only_sub_national_notice(tenant):
    LegalNoticeFactory(organisation=tenant.organisation, jurisdiction="GB-SCT")
    assert found(tenant.organisation, "GB") == "GB-SCT"


def test_an_unknown_jurisdiction_finds_nothing(imported):
    assert found(imported, "FR") is None
    assert found(imported, "GB-NIR") is None  # no GB notice to fall back to


def test_notices_are_scoped_to_the_caller_and_its_programmes(imported, other_tenant):
    assert found(other_tenant.organisation, "GB-ENG") is None
    partnership_set(programme=imported, partner=other_tenant.organisation, triggers=[],
                    actor=Actor.system())
    assert found(other_tenant.organisation, "GB-ENG") == "GB-ENG"
