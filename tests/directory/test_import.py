import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict

from core.errors import InvalidInput
from directory.models import HelpResource, LegalNotice, Statute, VerificationStatus
from directory.selectors import help_resources_for
from directory.services import directory_import, help_resource_confirm
from organisations.models import AuditEvent
from organisations.services import Actor

pytestmark = pytest.mark.django_db

UK_HELPLINE = "stop-it-now-uk-ireland-helpline"
EXISTENCE_ONLY = "preventell-sweden"


def snapshot(organisation):
    resources = {r.slug: model_to_dict(r, exclude=["id"])
                 for r in HelpResource.objects.filter(organisation=organisation)}
    notices = {n.jurisdiction: (model_to_dict(n, exclude=["id"]),
                                [s.as_dict() for s in n.statutes.all()])
               for n in LegalNotice.objects.filter(organisation=organisation)}
    return resources, notices


def edit(data_dir: Path, slug: str, **changes) -> None:
    path = data_dir / "help_resources.json"
    records = json.loads(path.read_text())
    for record in records:
        if record["slug"] == slug:
            record.update(changes)
    path.write_text(json.dumps(records))


def import_into(organisation, data_dir):
    return directory_import(organisation=organisation, data_dir=data_dir, actor=Actor.system())


def test_it_imports_every_record_of_the_shared_data(tenant, shared_data_dir):
    report = import_into(tenant.organisation, shared_data_dir)
    expected = len(json.loads((shared_data_dir / "help_resources.json").read_text()))
    assert report.help_resources.created == expected
    assert report.legal_notices.created == 6
    assert report.problems == []
    helpline = HelpResource.objects.get(organisation=tenant.organisation, slug=UK_HELPLINE)
    assert helpline.phone == "+448081000900"
    assert helpline.countries == ["GB"]
    assert helpline.verification_status() == VerificationStatus.NEEDS_VERIFICATION
    assert Statute.objects.filter(notice__jurisdiction="GB-ENG").count() == 2


def test_running_the_import_twice_gives_the_same_rows(tenant, shared_data_dir):
    import_into(tenant.organisation, shared_data_dir)
    first = snapshot(tenant.organisation)
    audit_rows = AuditEvent.objects.count()

    report = import_into(tenant.organisation, shared_data_dir)

    assert (report.created, report.updated) == (0, 0)
    assert report.unchanged == len(first[0]) + len(first[1])
    assert snapshot(tenant.organisation) == first
    assert AuditEvent.objects.count() == audit_rows  # nothing changed, nothing audited


def test_a_later_confirmation_survives_a_re_import(tenant, data_copy):
    import_into(tenant.organisation, data_copy)
    helpline = HelpResource.objects.get(organisation=tenant.organisation, slug=UK_HELPLINE)
    confirmed_at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    help_resource_confirm(resource=helpline, actor=Actor(user=tenant.manager), at=confirmed_at)
    edit(data_copy, UK_HELPLINE, cost="free from UK landlines")

    report = import_into(tenant.organisation, data_copy)

    helpline.refresh_from_db()
    assert report.help_resources.updated == 1
    assert helpline.cost == "free from UK landlines"
    assert helpline.confirmed_by == tenant.manager
    assert helpline.confirmed_at == confirmed_at


def test_a_re_import_keeps_the_phone_a_programme_confirmed_and_warns(tenant, data_copy):
    import_into(tenant.organisation, data_copy)
    helpline = HelpResource.objects.get(organisation=tenant.organisation, slug=UK_HELPLINE)
    help_resource_confirm(resource=helpline, actor=Actor(user=tenant.manager))
    edit(data_copy, UK_HELPLINE, phone="+448081000901")

    report = import_into(tenant.organisation, data_copy)

    helpline.refresh_from_db()
    assert helpline.phone == "+448081000900"
    assert helpline.confirmed_at is not None
    assert [w.key for w in report.warnings] == [UK_HELPLINE]
    assert "phone" in report.warnings[0].message


def test_a_changed_source_value_updates_the_row_and_is_audited(tenant, data_copy):
    import_into(tenant.organisation, data_copy)
    edit(data_copy, UK_HELPLINE, phone="+448081000901", languages=["en"])

    report = import_into(tenant.organisation, data_copy)

    helpline = HelpResource.objects.get(organisation=tenant.organisation, slug=UK_HELPLINE)
    assert report.help_resources.updated == 1
    assert helpline.phone == "+448081000901"
    assert helpline.languages == ["en"]
    event = AuditEvent.objects.get(action="help_resource.import_update",
                                   object_id=str(helpline.pk))
    assert event.changes["phone"] == ["+448081000900", "+448081000901"]


def test_an_existence_only_record_is_not_displayable_and_never_signposted(tenant, shared_data_dir):
    import_into(tenant.organisation, shared_data_dir)
    record = HelpResource.objects.get(organisation=tenant.organisation, slug=EXISTENCE_ONLY)
    assert record.displayable is False
    assert record.verification_status() == VerificationStatus.NOT_DISPLAYABLE
    with pytest.raises(Exception, match="cannot be confirmed"):
        help_resource_confirm(resource=record, actor=Actor(user=tenant.manager))

    results = help_resources_for(organisation=tenant.organisation, country="SE", language="sv",
                                 include_unconfirmed=True)
    assert EXISTENCE_ONLY not in [r.slug for r in results]


def test_it_reports_a_bad_record_and_still_imports_the_good_ones(tenant, data_copy):
    edit(data_copy, UK_HELPLINE, phone="0808 1000 900")
    edit(data_copy, "troubled-desire", kind="podcast")

    report = import_into(tenant.organisation, data_copy)

    problems = {p.key: p.message for p in report.problems}
    assert set(problems) == {UK_HELPLINE, "troubled-desire"}
    assert "E.164" in problems[UK_HELPLINE]
    assert "kind" in problems["troubled-desire"]
    assert report.help_resources.created == 16
    assert not HelpResource.objects.filter(slug=UK_HELPLINE).exists()


def test_a_missing_file_is_refused_clearly(tenant, tmp_path):
    with pytest.raises(InvalidInput, match="does not exist"):
        import_into(tenant.organisation, tmp_path)


def test_each_organisation_gets_its_own_copy(tenant, other_tenant, shared_data_dir):
    import_into(tenant.organisation, shared_data_dir)
    import_into(other_tenant.organisation, shared_data_dir)
    assert HelpResource.objects.filter(slug=UK_HELPLINE).count() == 2


def test_the_command_imports_and_says_when_it_confirms_for_the_demo(tenant, shared_data_dir):
    out = StringIO()
    call_command("import_directory", "--organisation", tenant.organisation.slug,
                 "--data-dir", str(shared_data_dir), "--confirm-all-for-demo", stdout=out)
    assert "help resources: 18 created" in out.getvalue()
    assert "DEMO: confirmed 15 displayable record(s)" in out.getvalue()
    helpline = HelpResource.objects.get(organisation=tenant.organisation, slug=UK_HELPLINE)
    assert helpline.verification_status() == VerificationStatus.CONFIRMED


def test_the_command_does_not_confirm_anything_by_default(tenant):
    out = StringIO()
    call_command("import_directory", "--organisation", tenant.organisation.slug, stdout=out)
    assert "DEMO" not in out.getvalue()
    assert not HelpResource.objects.filter(confirmed_at__isnull=False).exists()


def test_the_command_refuses_an_unknown_organisation(db):
    with pytest.raises(CommandError, match="No organisation"):
        call_command("import_directory", "--organisation", "nobody")


def test_the_command_explains_why_nothing_is_signposted_until_records_are_confirmed(
        tenant, shared_data_dir):
    out = StringIO()
    call_command("import_directory", "--organisation", tenant.organisation.slug,
                 "--data-dir", str(shared_data_dir), stdout=out)
    text = out.getvalue()
    assert "0 help resources are confirmed and may be signposted; 15 need verification" in text
    assert "Nothing is signposted until a programme user has checked a record" in text


def test_after_the_demo_confirmation_the_command_counts_them_confirmed(tenant, shared_data_dir):
    out = StringIO()
    call_command("import_directory", "--organisation", tenant.organisation.slug,
                 "--data-dir", str(shared_data_dir), "--confirm-all-for-demo", stdout=out)
    assert "15 help resources are confirmed and may be signposted; 0 need verification" \
        in out.getvalue()
    assert "Nothing is signposted until" not in out.getvalue()
