"""Writes for the directory: confirm, edit, and import the shared reference data.

Every write runs in one transaction with its audit row. The import is idempotent (records are
matched by slug or jurisdiction, never duplicated) and never overwrites a programme's
confirmation: see `directory_import`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput
from directory.models import HelpResource, LegalNotice, OpeningHours, Statute
from organisations.models import Organisation
from organisations.services import Actor, audit_record

HELP_RESOURCES_FILE = "help_resources.json"
LEGAL_NOTICES_FILE = "legal_notices.json"

# Once a programme has confirmed a record, these are the values it vouched for: an import
# does not replace them (it reports the difference instead), and an edit to them withdraws
# the confirmation so somebody checks the new value.
CONTACT_FIELDS = ("phone", "url")

# Fields the import owns, as stored on HelpResource.
IMPORTED_FIELDS = (
    "name", "provider_organisation", "description", "kind", "audiences", "countries",
    "languages", "phone", "url", "opening_hours_text", "anonymous", "cost", "sources",
    "field_sources", "inferred_fields", "caveats", "source_status", "source_checked_on",
)
EDITABLE_FIELDS = (*IMPORTED_FIELDS, "slug", "time_zone", "structured_hours_note")


@dataclass
class ImportCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class ImportIssue:
    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file} [{self.key}]: {self.message}"


@dataclass
class ImportReport:
    """What an import did. `problems` were skipped; `warnings` were imported but need a look."""

    help_resources: ImportCounts = field(default_factory=ImportCounts)
    legal_notices: ImportCounts = field(default_factory=ImportCounts)
    problems: list[ImportIssue] = field(default_factory=list)
    warnings: list[ImportIssue] = field(default_factory=list)
    confirmed: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def created(self) -> int:
        return self.help_resources.created + self.legal_notices.created

    @property
    def updated(self) -> int:
        return self.help_resources.updated + self.legal_notices.updated

    @property
    def unchanged(self) -> int:
        return self.help_resources.unchanged + self.legal_notices.unchanged

    def lines(self) -> list[str]:
        out = []
        for label, counts in (("help resources", self.help_resources),
                              ("legal notices", self.legal_notices)):
            out.append(f"{label}: {counts.created} created, {counts.updated} updated, "
                       f"{counts.unchanged} unchanged")
        out += [f"PROBLEM (skipped) {issue}" for issue in self.problems]
        out += [f"WARNING {issue}" for issue in self.warnings]
        out += self.notes
        return out


# --- confirm and edit -------------------------------------------------------------------------

@transaction.atomic
def help_resource_confirm(*, resource: HelpResource, actor: Actor, at: datetime | None = None,
                          note: str = "") -> HelpResource:
    """Record that the programme checked this record (who, when). Refused when not displayable:
    there is no confirmed way to reach the service, so there is nothing to vouch for."""
    if not resource.displayable:
        raise Conflict("This record has no confirmed contact route and cannot be confirmed.",
                       field="source_status")
    resource.confirmed_by = actor.signed_in_user
    resource.confirmed_at = at or timezone.now()
    resource.confirmation_note = note[:300]
    resource.save(update_fields=["confirmed_by", "confirmed_at", "confirmation_note"])
    audit_record(organisation=resource.organisation, actor=actor, action="help_resource.confirm",
                 target=resource, changes={"confirmed_at": resource.confirmed_at.isoformat(),
                                           "note": resource.confirmation_note})
    return resource


@transaction.atomic
def help_resource_create(*, organisation: Organisation, actor: Actor,
                         **fields: Any) -> HelpResource:
    """A programme's own record (starts as needing verification, like an imported one)."""
    _reject_unknown(fields)
    resource = HelpResource(organisation=organisation, **fields)
    _full_clean(resource)
    resource.save()
    audit_record(organisation=organisation, actor=actor, action="help_resource.create",
                 target=resource, changes=_jsonable({k: fields[k] for k in sorted(fields)}))
    return resource


@transaction.atomic
def help_resource_update(*, resource: HelpResource, actor: Actor,
                         **fields: Any) -> HelpResource:
    """Edit fields. Changing a contact route (phone, url) withdraws the confirmation."""
    _reject_unknown(fields)
    changes = _apply(resource, fields)
    if not changes:
        return resource
    _full_clean(resource)
    if resource.confirmed_at and set(changes) & set(CONTACT_FIELDS):
        resource.confirmed_by, resource.confirmed_at = None, None
        changes["confirmed_at"] = ["withdrawn: contact route changed", None]
    resource.updated_at = timezone.now()
    resource.save()
    audit_record(organisation=resource.organisation, actor=actor, action="help_resource.update",
                 target=resource, changes=changes)
    return resource


@transaction.atomic
def help_resource_set_hours(*, resource: HelpResource, actor: Actor, time_zone: str,
                            periods: list[dict], note: str = "") -> HelpResource:
    """Replace the structured hours: [{"weekday": 1-7, "opens": "HH:MM", "closes": "HH:MM"}]."""
    rows = [_hours_row(resource, period) for period in periods]
    resource.time_zone, resource.structured_hours_note = time_zone, note[:300]
    _full_clean(resource)
    resource.save(update_fields=["time_zone", "structured_hours_note"])
    resource.opening_hours.all().delete()
    OpeningHours.objects.bulk_create(rows)
    audit_record(organisation=resource.organisation, actor=actor,
                 action="help_resource.set_hours", target=resource,
                 changes={"time_zone": time_zone, "periods": [r.as_dict() for r in rows],
                          "note": note})
    return resource


def _hours_row(resource: HelpResource, period: dict) -> OpeningHours:
    try:
        weekday = int(period["weekday"])
        opens, closes = time.fromisoformat(period["opens"]), time.fromisoformat(period["closes"])
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInput(f"Bad opening-hours period {period!r}.", field="periods") from error
    if not 1 <= weekday <= 7:
        raise InvalidInput("weekday must be 1 (Monday) to 7 (Sunday).", field="periods")
    return OpeningHours(resource=resource, weekday=weekday, opens=opens, closes=closes)


def _reject_unknown(fields: dict) -> None:
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise InvalidInput(f"Unknown or read-only field(s): {', '.join(unknown)}.",
                           field=unknown[0])


def _full_clean(instance: Any) -> None:
    try:
        instance.full_clean(exclude=["organisation", "confirmed_by"])
    except ValidationError as error:
        name, messages = next(iter(error.message_dict.items()))
        raise InvalidInput(" ".join(messages), field=name) from error


def _apply(instance: Any, fields: dict) -> dict:
    """Set the fields that differ; return {field: [old, new]} for the audit row."""
    changes = {}
    for name, value in fields.items():
        old = getattr(instance, name)
        if old != value:
            changes[name] = _jsonable([old, value])
            setattr(instance, name, value)
    return changes


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# --- import -----------------------------------------------------------------------------------

def directory_import(*, organisation: Organisation, data_dir: Path | str,
                     actor: Actor) -> ImportReport:
    """Import help_resources.json and legal_notices.json from `data_dir` for one programme.

    Idempotent: records are matched by slug (resources) and jurisdiction (notices); a second run
    of the same files changes nothing. Imported resources start as needing verification; a
    re-import keeps the programme's confirmation (confirmed_by/at) and, on a confirmed record,
    keeps the phone and URL the programme vouched for, reporting a differing source value as a
    warning. A bad record (e.g. a malformed phone number) is reported and skipped; the others are
    imported. Raises InvalidInput when a file is missing or not JSON.
    """
    data_dir = Path(data_dir)
    report = ImportReport()
    for raw in _load(data_dir / HELP_RESOURCES_FILE):
        _import_one(report, HELP_RESOURCES_FILE, raw, "slug",
                    lambda r: _import_resource(organisation, r, actor, report))
    for raw in _load(data_dir / LEGAL_NOTICES_FILE):
        _import_one(report, LEGAL_NOTICES_FILE, raw, "jurisdiction",
                    lambda r: _import_notice(organisation, r, actor, report))
    return report


def _load(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise InvalidInput(f"{path} does not exist.", field="data_dir") from error
    except (OSError, ValueError) as error:
        raise InvalidInput(f"{path} is not readable JSON: {error}", field="data_dir") from error
    if not isinstance(data, list):
        raise InvalidInput(f"{path} must hold a JSON list of records.", field="data_dir")
    return data


def _import_one(report: ImportReport, file: str, raw: Any, key_name: str, run: Any) -> None:
    """One record in its own transaction: a bad record rolls back alone."""
    key = str(raw.get(key_name)) if isinstance(raw, dict) else "?"
    try:
        with transaction.atomic():
            if not isinstance(raw, dict):
                raise InvalidInput("Record is not a JSON object.")
            run(raw)
    except InvalidInput as error:
        where = f" ({error.field})" if error.field else ""
        report.problems.append(ImportIssue(file, key, f"{error.message}{where}"))


def _resource_fields(raw: dict) -> dict:
    return {
        "name": _text(raw.get("name")),
        "provider_organisation": _text(raw.get("organisation")),
        "description": _text(raw.get("description")),
        "kind": _text(raw.get("kind")),
        "audiences": list(raw.get("audiences") or []),
        "countries": list(raw.get("countries") or []),
        "languages": list(raw.get("languages") or []),
        "phone": raw.get("phone") or None,
        "url": raw.get("url") or None,
        "opening_hours_text": _text(raw.get("opening_hours")),
        "anonymous": raw.get("anonymous"),
        "cost": _text(raw.get("cost")),
        "sources": list(raw.get("sources") or []),
        "field_sources": dict(raw.get("field_sources") or {}),
        "inferred_fields": list(raw.get("inferred_fields") or []),
        "caveats": list(raw.get("caveats") or []),
        "source_status": _text(raw.get("status")),
        "source_checked_on": _date(raw.get("source_checked_on"), "source_checked_on"),
    }


def _import_resource(organisation: Organisation, raw: dict, actor: Actor,
                     report: ImportReport) -> None:
    slug = _text(raw.get("slug"))
    if not slug:
        raise InvalidInput("Record has no slug.", field="slug")
    fields = _resource_fields(raw)
    resource = HelpResource.objects.select_for_update().filter(
        organisation=organisation, slug=slug).first()
    if resource is None:
        resource = HelpResource(organisation=organisation, slug=slug, **fields)
        _full_clean(resource)
        resource.save()
        audit_record(organisation=organisation, actor=actor, action="help_resource.import_create",
                     target=resource, changes={"slug": slug,
                                               "source_status": fields["source_status"]})
        report.help_resources.created += 1
        return
    if resource.confirmed_at is not None:
        _keep_confirmed_contacts(resource, fields, report)
    changes = _apply(resource, fields)
    if not changes:
        report.help_resources.unchanged += 1
        return
    _full_clean(resource)
    resource.updated_at = timezone.now()
    resource.save()
    audit_record(organisation=organisation, actor=actor, action="help_resource.import_update",
                 target=resource, changes=changes)
    report.help_resources.updated += 1


def _keep_confirmed_contacts(resource: HelpResource, fields: dict, report: ImportReport) -> None:
    for name in CONTACT_FIELDS:
        incoming = fields.pop(name)
        if incoming != getattr(resource, name):
            report.warnings.append(ImportIssue(
                HELP_RESOURCES_FILE, resource.slug,
                f"the source's {name} ({incoming or 'none'}) differs from the confirmed value "
                f"({getattr(resource, name) or 'none'}); kept the confirmed value - check and "
                "edit the record if the source is right"))


def _import_notice(organisation: Organisation, raw: dict, actor: Actor,
                   report: ImportReport) -> None:
    jurisdiction = _text(raw.get("jurisdiction")).upper()
    if not jurisdiction:
        raise InvalidInput("Record has no jurisdiction.", field="jurisdiction")
    fields = {
        "also_applies_to": [str(code).upper() for code in raw.get("also_applies_to") or []],
        "level": _text(raw.get("level")),
        "confidence": _text(raw.get("confidence")),
        "source_checked_on": _date(raw.get("source_checked_on"), "source_checked_on"),
    }
    statutes = [_statute(item) for item in raw.get("statutes") or []]
    notice = LegalNotice.objects.select_for_update().filter(
        organisation=organisation, jurisdiction=jurisdiction).first()
    created = notice is None
    if created:
        notice = LegalNotice(organisation=organisation, jurisdiction=jurisdiction)
    changes = _apply(notice, fields)
    old_statutes = [] if created else [s.as_dict() for s in notice.statutes.all()]
    new_statutes = [s.as_dict() for s in statutes]
    if old_statutes != new_statutes:
        changes["statutes"] = [len(old_statutes), len(new_statutes)]
    if not created and not changes:
        report.legal_notices.unchanged += 1
        return
    _save_notice(notice, statutes, replace_statutes="statutes" in changes)
    action = "legal_notice.import_create" if created else "legal_notice.import_update"
    audit_record(organisation=organisation, actor=actor, action=action, target=notice,
                 changes=changes)
    if created:
        report.legal_notices.created += 1
    else:
        report.legal_notices.updated += 1


def _save_notice(notice: LegalNotice, statutes: list[Statute], *, replace_statutes: bool) -> None:
    _full_clean(notice)
    notice.updated_at = timezone.now()
    notice.save()
    if not replace_statutes:
        return
    notice.statutes.all().delete()
    for position, statute in enumerate(statutes):
        statute.notice, statute.position = notice, position
        _full_clean(statute)
    Statute.objects.bulk_create(statutes)


def _statute(raw: Any) -> Statute:
    if not isinstance(raw, dict):
        raise InvalidInput("A statute is not a JSON object.", field="statutes")
    return Statute(
        name=_text(raw.get("name")), section=_text(raw.get("section")),
        offence_summary=_text(raw.get("offence_summary")),
        max_penalty=_text(raw.get("max_penalty")), source=_text(raw.get("source")),
        supporting_sources=list(raw.get("supporting_sources") or []))


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _date(value: Any, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError as error:
        raise InvalidInput(f"'{value}' is not a YYYY-MM-DD date.", field=name) from error
