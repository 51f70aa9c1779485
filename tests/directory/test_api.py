import pytest

from directory.demo import seed_demo
from directory.models import HelpResource
from organisations.services import Actor, partnership_set
from tests.directory.factories import HelpResourceFactory
from tests.factories import OrganisationFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/help-resources/"
UK_HELPLINE = "stop-it-now-uk-ireland-helpline"


@pytest.fixture
def demo(tenant, shared_data_dir):
    return seed_demo(organisation=tenant.organisation)


def test_a_key_lists_stop_it_nows_uk_helpline_after_a_demo_import(tenant, demo):
    key = tenant.key_with("help_resources:read")
    response = tenant.client(key).get(LIST, {"country": "GB"})
    assert response.status_code == 200
    by_slug = {item["slug"]: item for item in response.json()["results"]}
    helpline = by_slug[UK_HELPLINE]
    assert helpline["phone"] == "+448081000900"
    assert helpline["verification_status"] == "confirmed"
    assert helpline["open_now"] in (True, False)  # the demo entered structured hours
    assert helpline["time_zone"] == "Europe/London"
    assert "Demo only" in helpline["structured_hours_note"]
    assert all("GB" in item["countries"] or item["countries"] == ["*"]
               for item in response.json()["results"])


def test_it_accepts_a_lower_case_country_and_filters_by_audience_stage(tenant, demo):
    response = tenant.client().get(LIST, {"country": "gb", "language": "EN",
                                          "audience": "young_person_hsb"})
    assert response.status_code == 200
    for item in response.json()["results"]:
        assert "young_person_concerned_about_self" in item["audiences"]


@pytest.mark.parametrize("params, field", [
    ({"country": "XX1"}, "country"),
    ({"country": "G"}, "country"),
    ({"language": "eng"}, "language"),
    ({"audience": "everyone"}, "audience"),
    ({"open_now": "perhaps"}, "open_now"),
])
def test_bad_query_parameters_are_a_400_naming_the_field(tenant, params, field):
    response = tenant.client().get(LIST, params)
    assert response.status_code == 400
    assert field in response.json()


def test_open_now_true_lists_only_services_open_now(tenant, demo):
    response = tenant.client().get(LIST, {"country": "GB", "open_now": "true"})
    assert response.status_code == 200
    assert {item["open_now"] for item in response.json()["results"]} <= {True}


def test_the_list_is_paginated_with_limit_and_offset(tenant, demo):
    response = tenant.client().get(LIST, {"limit": 2, "offset": 1})
    body = response.json()
    assert len(body["results"]) == 2
    assert body["count"] == 15  # displayable records confirmed by the demo
    assert "offset=3" in body["next"]


def test_anonymous_callers_get_401(anonymous_client):
    for url in (LIST, f"{LIST}{UK_HELPLINE}/", "/api/v1/legal-notices/",
                "/api/v1/legal-notices/GB-ENG/"):
        assert anonymous_client.get(url).status_code == 401


def test_a_key_without_the_help_resources_scope_gets_403(tenant):
    key = tenant.key_with("campaigns:read")
    for url in (LIST, f"{LIST}{UK_HELPLINE}/", "/api/v1/legal-notices/",
                "/api/v1/legal-notices/GB-ENG/"):
        assert tenant.client(key).get(url).status_code == 403


def test_a_resource_detail_answers_with_its_verification_status(tenant):
    HelpResourceFactory(organisation=tenant.organisation, slug="our-line")
    response = tenant.client().get(f"{LIST}our-line/")
    assert response.status_code == 200
    assert response.json()["verification_status"] == "needs_verification"
    assert response.json()["open_now"] is None


def test_a_not_displayable_record_is_shown_without_contact_routes(tenant):
    HelpResourceFactory(organisation=tenant.organisation, slug="unreachable",
                        source_status="existence_confirmed_contact_unverified")
    body = tenant.client().get(f"{LIST}unreachable/").json()
    assert body["verification_status"] == "not_displayable"
    assert (body["phone"], body["url"]) == (None, None)


def test_another_organisations_resource_is_a_404(tenant, other_tenant):
    HelpResourceFactory(organisation=other_tenant.organisation, slug="their-line")
    assert tenant.client().get(f"{LIST}their-line/").status_code == 404
    assert tenant.client().get(f"{LIST}no-such-line/").status_code == 404


def test_a_partner_sees_its_programmes_resources_and_an_unrelated_one_does_not(
        tenant, demo, make_key):
    partner = OrganisationFactory(name="Partner Platform", kind="partner_platform")
    stranger = OrganisationFactory(name="Unrelated Platform", kind="partner_platform")
    partnership_set(programme=tenant.organisation, partner=partner,
                    triggers=["search_blocked_term"], actor=Actor.system())
    partner_client = tenant.client(make_key(partner, "help_resources:read"))
    stranger_client = tenant.client(make_key(stranger, "help_resources:read"))

    seen = [item["slug"] for item in
            partner_client.get(LIST, {"country": "GB"}).json()["results"]]
    assert UK_HELPLINE in seen
    assert partner_client.get(f"{LIST}{UK_HELPLINE}/").status_code == 200
    assert stranger_client.get(LIST, {"country": "GB"}).json()["results"] == []
    assert stranger_client.get(f"{LIST}{UK_HELPLINE}/").status_code == 404


def test_listing_runs_a_bounded_number_of_queries(tenant, demo, django_assert_max_num_queries):
    assert HelpResource.objects.count() == 18
    with django_assert_max_num_queries(12):
        response = tenant.client().get(LIST)
    assert response.status_code == 200


def test_legal_notices_follow_the_jurisdiction_fallbacks(tenant, demo):
    client = tenant.client()
    assert client.get("/api/v1/legal-notices/GB-ENG/").json()["jurisdiction"] == "GB-ENG"
    assert client.get("/api/v1/legal-notices/gb-wls/").json()["jurisdiction"] == "GB-ENG"
    assert client.get("/api/v1/legal-notices/US-CA/").json()["jurisdiction"] == "US"
    assert client.get("/api/v1/legal-notices/GB/").status_code == 404  # ambiguous
    assert client.get("/api/v1/legal-notices/FR/").status_code == 404
    assert client.get("/api/v1/legal-notices/not-a-code/").status_code == 404
    listed = client.get("/api/v1/legal-notices/", {"jurisdiction": "GB-WLS"}).json()
    assert [n["jurisdiction"] for n in listed["results"]] == ["GB-ENG"]
    assert len(listed["results"][0]["statutes"]) == 2
    assert client.get("/api/v1/legal-notices/").json()["count"] == 6
    bad = client.get("/api/v1/legal-notices/", {"jurisdiction": "England"})
    assert bad.status_code == 400
    assert "jurisdiction" in bad.json()


def test_another_organisations_legal_notice_is_a_404(tenant, other_tenant, demo):
    assert tenant.client().get("/api/v1/legal-notices/DE/").status_code == 200
    assert other_tenant.client().get("/api/v1/legal-notices/DE/").status_code == 404


def test_the_schema_documents_the_directory_endpoints(tenant):
    response = tenant.client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/help-resources/" in paths
    params = {p["name"] for p in paths["/api/v1/help-resources/"]["get"]["parameters"]}
    assert {"country", "language", "audience", "open_now", "limit", "offset"} <= params


def test_open_now_false_lists_only_services_not_known_to_be_open(tenant, demo):
    response = tenant.client().get(LIST, {"open_now": "false"})
    assert response.status_code == 200
    states = [item["open_now"] for item in response.json()["results"]]
    assert None in states  # helplines without structured hours: hours unknown
    assert True not in states
