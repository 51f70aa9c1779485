"""Every output path that shows a count goes through disclosure control: enumerated, not
sampled.

Three enumerations, each failing when a new path appears that is not in its registry:
1. every place application code counts rows (``.count()``, ``Count(``, ``Sum(``), with what
   happens to the figure: published through ``core.disclosure`` (the module must import it),
   or why it is not a published count of people (internal limit, the caller's own upload,
   objects that are not people);
2. every admin page: changelist counts (pagination, search results, "select all") are shown
   through the ``disclosed`` filter, and no project ModelAdmin shows filter facets (counts of
   groups);
3. every API operation: each integer in a response schema is an id or setting, a listing's
   ``count`` (the rows themselves are returned to the scoped caller), a receipt of the
   caller's own upload, or a registered disclosed count; every report-like operation is
   registered with the module that discloses it.
Then behavioural checks with a small cell on the main paths (more in each app's tests:
tests/evaluation/test_report_attacks.py, tests/learning/test_reports.py,
tests/helpline/test_metrics.py, tests/delivery/test_progress_disclosure.py,
tests/segments/test_preview_differencing.py).
"""

from __future__ import annotations

import ast
import pathlib
import re

import pytest
from django.contrib import admin
from django.contrib.admin import ShowFacets
from django.template import engines
from django.test import Client

ROOT = pathlib.Path(__file__).resolve().parents[1]
APPS = ["campaigns", "core", "delivery", "directory", "evaluation", "helpline",
        "interventions", "learning", "organisations", "outreach", "segments"]

DISCLOSED = "published through core.disclosure"
# (file, function) -> what happens to the figure
COUNT_SITES: dict[tuple[str, str], str] = {
    ("delivery/selectors.py", "campaign_progress"): DISCLOSED + " (Progress: one Table)",
    ("evaluation/population.py", "referral_series"): DISCLOSED + " (PopulationView Table)",
    ("evaluation/reports/builder.py", "_out_of_range_notes"): DISCLOSED + " (disclose_count)",
    ("evaluation/reports/context.py", "<module>"): DISCLOSED + " (the report's one Table)",
    ("learning/reports.py", "_stage_counts"): DISCLOSED + " (the funnel Table, overlaps)",
    ("learning/reports.py", "learner_scores"): DISCLOSED + " (pairs in the gain Table)",
    ("outreach/admin_dashboard.py", "dashboard_for"):
        DISCLOSED + " (sends and failures by disclose_count; help-resource counts are not "
                    "people)",
    ("segments/selectors.py", "segment_count"):
        "internal: the exact size for delivery and the benchmark; shown only by rule_preview",
    ("interventions/selectors.py", "helpline_daily_totals"):
        "read by evaluation.population, which publishes it through its Table",
    ("delivery/services.py", "campaign_error_check"): "internal: a failure-rate trip wire",
    ("evaluation/exposure_log.py", "_insert_one"): "internal: the frequency cap",
    ("evaluation/exposure_log.py", "capped_subjects"): "internal: the frequency cap",
    ("evaluation/selectors.py", "exposures_pending_rollup"): "internal: rollup lag",
    ("helpline/pacing.py", "_refresh_helpline"): "internal: send pacing",
    ("helpline/services.py", "conversation_claim"): "internal: a counsellor's load limit",
    ("helpline/selectors.py", "helpline_capacity"):
        "live service state (free / waiting now) for the wait estimate: no attribute of "
        "anyone, not a statistic",
    ("helpline/selectors.py", "queue_position"):
        "told only to the person waiting: their own place in the queue",
    ("learning/learners.py", "answers_record"): "the learner's own answers",
    ("learning/learners.py", "learner_state"): "the learner's own progress",
    ("learning/views.py", "_module"): "not people: the number of questions of a module",
    ("directory/selectors.py", "help_resource_verification_counts"):
        "not people: help resources by verification state",
    ("outreach/admin_dashboard.py", "_expiring_soon"): "not people: help resources",
    ("organisations/admin.py", "ApiKeyAdmin.revoke_keys"):
        "not people: the keys the user just revoked",
}

# Modules that build published counts from Python lists or rollups (no ORM count call):
# each must import core.disclosure. (Charts, CSV and JSON render these modules' disclosed
# objects only: evaluation/charts.py, learning/charts.py, helpline/charts.py.)
PUBLISHING_MODULES = [
    "evaluation/reports/table.py", "evaluation/reports/builder.py", "evaluation/exports.py",
    "evaluation/population.py", "learning/reports.py", "helpline/metrics.py",
    "delivery/selectors.py",
    "segments/previews.py", "outreach/admin_dashboard.py",
    "outreach/templatetags/disclosure_tags.py",
]


class _Counts(ast.NodeVisitor):
    """(file, enclosing function) of every ``.count()``, ``Count(`` and ``Sum(`` call."""

    def __init__(self, rel: str, found: set[tuple[str, str]]) -> None:
        self.rel, self.found, self.stack = rel, found, []

    def visit_FunctionDef(self, node):  # type: ignore[no-untyped-def]
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_ClassDef = visit_FunctionDef

    def visit_Call(self, node):  # type: ignore[no-untyped-def]
        f = node.func
        if (isinstance(f, ast.Attribute) and f.attr == "count" and not node.args) \
                or (isinstance(f, ast.Name) and f.id in ("Count", "Sum")):
            self.found.add((self.rel, ".".join(self.stack) or "<module>"))
        self.generic_visit(node)


def count_sites() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" in rel or rel.startswith("evaluation/stats/"):
                continue
            _Counts(rel, found).visit(ast.parse(path.read_text()))
    return found


def imports_disclosure(rel: str) -> bool:
    tree = ast.parse((ROOT / rel).read_text())
    return any(isinstance(n, ast.ImportFrom) and (n.module or "").startswith("core.disclosure")
               for n in ast.walk(tree))


def test_every_place_that_counts_rows_is_registered_with_what_becomes_of_the_figure() -> None:
    found = count_sites()
    assert found - COUNT_SITES.keys() == set(), "new count: register it (and disclose it)"
    assert COUNT_SITES.keys() - found == set(), "stale registry entry"


@pytest.mark.parametrize("rel", sorted({r for (r, _), why in COUNT_SITES.items()
                                        if why.startswith(DISCLOSED)} | set(PUBLISHING_MODULES)))
def test_each_publishing_module_uses_core_disclosure(rel: str) -> None:
    assert imports_disclosure(rel), rel


# --- admin ----------------------------------------------------------------------------------

THIRD_PARTY_SECURITY = {"auth", "otp_totp", "otp_static", "axes"}  # superusers only, staff data


def test_no_project_admin_shows_filter_facets() -> None:
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in THIRD_PARTY_SECURITY:
            continue
        assert model_admin.show_facets == ShowFacets.NEVER, model._meta.label


@pytest.mark.parametrize("name", ["admin/pagination.html", "admin/search_form.html",
                                  "admin/actions.html"])
def test_the_changelist_templates_show_every_count_through_the_filter(name: str) -> None:
    template = engines["django"].get_template(name)
    source = pathlib.Path(template.origin.name)
    assert source.is_relative_to(ROOT / "templates"), f"{name} is not the project's override"
    text = source.read_text()
    shown = re.findall(r"\{\{\s*cl\.(?:full_)?result_count[^}]*\}\}", text)
    assert shown and all("|disclosed" in s for s in shown), shown
    assert "selection_note_all" not in text and "counter=cl.result_count" not in text


@pytest.mark.django_db
def test_a_changelist_of_three_recipients_shows_a_suppressed_count(tenant) -> None:  # type: ignore[no-untyped-def]
    from tests.segments.factories import recipient

    for number in range(3):
        recipient(tenant.organisation, f"P-{number}")
    client = Client()
    client.force_login(tenant.manager)
    page = client.get("/admin/segments/recipient/").content.decode()
    assert "&lt;10 recipients" in page
    assert not re.search(r"\b3 recipients\b", page)
    assert "_facets" not in page


# --- API ------------------------------------------------------------------------------------

NOT_COUNTS = {"id", "priority", "frequency_cap_count", "frequency_cap_days", "offset_days",
              "weekday", "sms_length", "sms_segments", "age", "campaign", "recipient",
              "line", "row", "required_sample_per_arm"}
RECEIPTS = {  # figures about the caller's own upload, echoed back to it
    ("post", "/api/v1/outcomes/aggregates"): {"received", "created", "updated",
                                               "linked_to_campaigns"},
    ("post", "/api/v1/outcomes/batch"): {"received", "accepted", "duplicates", "rejected"},
    ("post", "/api/v1/recipients/import"): {"created", "updated", "rejected_rows"},
}
DISCLOSED_FIELDS = {
    ("get", "/api/v1/segments/{id}/preview", "count"): "segments.selectors.rule_preview",
    ("get", "/api/v1/campaigns/{id}/progress", "done_percent"): "delivery.selectors Progress",
}
REPORT_OPERATIONS = {  # untyped report bodies: the module that builds them from a Table
    "/api/v1/campaigns/{campaign_id}/report": "evaluation.reports.campaign_report",
    "/api/v1/campaigns/{campaign_id}/report.csv": "evaluation.exports.report_as_csv",
    "/api/v1/campaigns/{id}/progress": "delivery.selectors.campaign_progress",
    "/api/v1/segments/{id}/preview": "segments.selectors.rule_preview",
}


def schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def integer_fields(body: dict) -> list[tuple[str, str, str, bool]]:
    """(method, path, field, listing) for every integer in a 2xx response schema."""
    components = body["components"]["schemas"]

    def walk(ref: str, prefix: str, seen: tuple) -> list[str]:
        name = ref.split("/")[-1]
        if name in seen:
            return []
        out = []
        for field, spec in components[name].get("properties", {}).items():
            if "$ref" in spec:
                out += walk(spec["$ref"], f"{prefix}{field}.", (*seen, name))
            elif spec.get("type") == "array" and "$ref" in spec.get("items", {}):
                out += walk(spec["items"]["$ref"], f"{prefix}{field}[].", (*seen, name))
            elif spec.get("type") == "integer":
                out.append(prefix + field)
        return out

    found = []
    for path, operations in body["paths"].items():
        for method, operation in operations.items():
            for code, response in operation.get("responses", {}).items():
                if not code.startswith("2"):
                    continue
                for content in response.get("content", {}).values():
                    ref = content.get("schema", {}).get("$ref")
                    if not ref:
                        continue
                    listing = "results" in components[ref.split("/")[-1]].get("properties", {})
                    found += [(method, path, f, listing) for f in walk(ref, "", ())]
    return found


def test_every_integer_an_api_response_can_carry_is_accounted_for() -> None:
    unaccounted = []
    for method, path, field, listing in integer_fields(schema()):
        leaf = field.split(".")[-1].rstrip("[]")
        if leaf in NOT_COUNTS:
            continue
        if field == "count" and listing:
            continue  # a page of the caller's own rows: the rows themselves are returned
        if field in RECEIPTS.get((method, path), set()):
            continue
        if (method, path, field) in DISCLOSED_FIELDS:
            continue
        unaccounted.append((method, path, field))
    assert unaccounted == []


def test_every_report_like_operation_is_registered() -> None:
    words = ("report", "progress", "preview", "metrics", "stats", "summary", "totals")
    found = {path for path in schema()["paths"]
             if any(w in path for w in words) and not path.startswith("/api/v1/messages/")}
    assert found - REPORT_OPERATIONS.keys() == set()


@pytest.mark.django_db
def test_the_preview_api_publishes_no_small_count(tenant) -> None:  # type: ignore[no-untyped-def]
    from tests.segments.factories import recipient, segment

    uk = segment(tenant.organisation)
    recipient(tenant.organisation, "P-1")
    body = tenant.client().get(f"/api/v1/segments/{uk.pk}/preview").json()
    assert body["count"] is None and body["suppressed"] is True


@pytest.mark.django_db
def test_the_report_api_publishes_no_small_count(tenant) -> None:  # type: ignore[no-untyped-def]
    from tests.evaluation.factories import campaign_with_arms, cell

    campaign, arms = campaign_with_arms(tenant.organisation)
    cell(campaign, arms["control"], exposures=5_000, help_click=40)
    cell(campaign, arms["legal"], exposures=5_000, help_click=3)
    body = tenant.client().get(f"/api/v1/campaigns/{campaign.pk}/report").json()
    legal = next(a for a in body["arms"] if a["name"] == "legal")
    assert legal["outcomes"]["help_click"] == {"value": None, "display": "<10",
                                               "suppressed": True}
    assert legal["rates"]["help_click"] is None
    text = tenant.client().get(f"/api/v1/campaigns/{campaign.pk}/report.csv").content.decode()
    assert ",3," not in text
