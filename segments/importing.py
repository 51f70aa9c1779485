"""Reading recipient rows: CSV and NDJSON files to dicts, and one dict to a checked RecipientRow.

Pure functions, no database: `recipients_import` (recipients.py) feeds every row through
`row_check` and writes only the rows that pass. Every problem is a RowError(row, field,
problem) naming the line of the file (CSV: the line where the record starts, header = 1;
NDJSON: the line; JSON arrays: the 1-based position).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, validate_email
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.bounds import EARLIEST
from core.edge import json_problem
from core.errors import InvalidInput
from core.vocabulary import AudienceStage
from segments.models import ConsentBasis, ContactChannel, RecipientStatus
from segments.rules import AttributeSpec, FieldType

MAX_REFERENCE_LENGTH = 200
MAX_TEXT_LENGTH = 500
MAX_AGE = 130
PROFILE_FIELDS = ("stage", "country", "language", "time_zone", "age", "status")
CONTACT_FIELDS = ("email", "phone")
CONSENT_FIELDS = ("consent_basis", "consent_source", "consented_at", "verified")
KNOWN_FIELDS = frozenset({"reference", *PROFILE_FIELDS, *CONTACT_FIELDS, *CONSENT_FIELDS,
                          "attributes"})
# Imports may set active or paused; erasure has its own action.
IMPORT_STATUSES = (RecipientStatus.ACTIVE.value, RecipientStatus.PAUSED.value)
# Plain tuples: TextChoices.values builds a new list on every access (hot in 100k-row imports).
STAGES = tuple(AudienceStage.values)
CONSENT_BASES = tuple(ConsentBasis.values)
_COUNTRY = re.compile(r"[A-Z]{2}")
_LANGUAGE = re.compile(r"[a-z]{2}")
_PHONE = re.compile(r"\+[1-9]\d{6,14}")
_PHONE_PUNCTUATION = re.compile(r"[\s().-]")
_TIME_ZONES = frozenset(available_timezones())
_WHOLE_NUMBER = re.compile(r"\s*\d{1,4}\s*")
_NUMBER = re.compile(r"\s*[+-]?\d+(\.\d+)?\s*")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Django's own e-mail patterns, compiled once: its validator reaches them through lazy objects,
# which cost more than the match itself on a 100,000-row import.
_EMAIL_USER = re.compile(EmailValidator.user_regex.pattern, re.IGNORECASE)
_EMAIL_DOMAIN = re.compile(EmailValidator.domain_regex.pattern, re.IGNORECASE)


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    problem: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    rejected: list[RowError] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        return len({error.row for error in self.rejected})


@dataclass(frozen=True)
class Contact:
    channel: str
    value: str  # normalised: e-mail stripped, phone in E.164


@dataclass
class RecipientRow:
    """A row that passed every check, ready to be written."""

    row: int
    reference: str
    stage: str = ""
    country: str = ""
    language: str = ""
    time_zone: str = "UTC"
    age: int | None = None
    status: str = RecipientStatus.ACTIVE
    attributes: dict[str, Any] = field(default_factory=dict)
    contacts: list[Contact] = field(default_factory=list)
    consent_basis: str = ""
    consent_source: str = ""
    consented_at: datetime | None = None
    verified: bool = False


class RowProblems(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} problems")
        self.errors = errors


# ---- files -> (row number, dict) --------------------------------------------------------------


def decode_upload(content: bytes) -> str:
    """UTF-8 (a byte-order mark is tolerated); anything else is a clear error naming the line."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise InvalidInput(f"line {line} is not valid UTF-8: save the file as UTF-8 and retry",
                           field="file") from None
    nul = text.find("\x00")
    if nul >= 0:  # PostgreSQL stores no NUL in text; often a UTF-16 file saved by mistake
        line = text.count("\n", 0, nul) + 1
        raise InvalidInput(f"line {line} contains a NUL character: save the file as UTF-8 "
                           "text and retry", field="file")
    return text


def csv_rows(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a CSV file with a header line; custom attributes are their own columns."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise InvalidInput("the file is empty", field="file") from None
    except csv.Error as error:
        raise InvalidInput(f"line 1 cannot be read as CSV: {error}", field="file") from None
    header_check(header)
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield start, {"__error__": f"cannot be read as CSV: {error}"}
            return
        if not any(value.strip() for value in values):
            continue  # blank lines are not rows
        if len(values) != len(header):
            yield start, {"__error__": f"has {len(values)} columns, the header has {len(header)}"}
            continue
        yield start, dict(zip(header, values, strict=True))


def header_check(header: list[str]) -> None:
    if "reference" not in header:
        raise InvalidInput("the header must have a 'reference' column", field="file")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise InvalidInput(f"the header repeats the column(s) {', '.join(duplicates)}",
                           field="file")


def ndjson_rows(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            yield number, {"__error__": "is not valid JSON (or nested too deeply)"}
            continue
        found = json_problem(value)
        if found:
            yield number, {"__error__": f"{found[0]}: {found[1]}"}
            continue
        yield number, value if isinstance(value, dict) else {"__error__": "is not a JSON object"}


def upload_rows(content: bytes, *, format: str) -> Iterator[tuple[int, dict[str, Any]]]:
    text = decode_upload(content)
    if format == "csv":
        return csv_rows(text)
    if format == "ndjson":
        return ndjson_rows(text)
    raise InvalidInput("format must be csv or ndjson", field="format")


# ---- dict -> RecipientRow ---------------------------------------------------------------------


def row_check(number: int, data: Mapping[str, Any], *,
              attributes: Mapping[str, AttributeSpec], now: datetime) -> RecipientRow:
    """A checked row, or RowProblems listing every problem of this row (not just the first)."""
    if "__error__" in data:
        raise RowProblems([RowError(number, "row", f"line {number} {data['__error__']}")])
    checker = _RowChecker(number, attributes, now)
    row = checker.check(data)
    if checker.errors:
        raise RowProblems(checker.errors)
    return row


class _RowChecker:
    def __init__(self, number: int, attributes: Mapping[str, AttributeSpec],
                 now: datetime) -> None:
        self.number = number
        self.attributes = attributes
        self.now = now
        self.errors: list[RowError] = []

    def fail(self, field_name: str, problem: str) -> None:
        self.errors.append(RowError(self.number, field_name, problem))

    def check(self, data: Mapping[str, Any]) -> RecipientRow:
        flat, custom = self.split(data)
        row = RecipientRow(row=self.number, reference=self.reference(flat.get("reference")))
        self.profile(row, flat)
        row.attributes = self.custom_attributes(custom)
        self.contacts(row, flat)
        return row

    def split(self, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Built-in fields, and custom attributes (a nested object, or CSV columns by name)."""
        flat: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        nested = data.get("attributes")
        if nested not in (None, ""):
            if isinstance(nested, dict):
                custom.update(nested)
            else:
                self.fail("attributes", "must be an object of attribute names and values")
        for key, value in data.items():
            if key == "attributes":
                continue
            if key in KNOWN_FIELDS:
                # _blank_to_none inlined: this runs once per cell of the upload.
                flat[key] = (None if value is None or (isinstance(value, str)
                                                       and not value.strip()) else value)
            else:
                custom[key] = value
        return flat, custom

    def reference(self, value: Any) -> str:
        text = value.strip() if isinstance(value, str) else value
        if isinstance(text, int) and not isinstance(text, bool):
            text = str(text)
        if not isinstance(text, str) or not text:
            self.fail("reference", "is required")
            return ""
        if len(text) > MAX_REFERENCE_LENGTH:
            self.fail("reference", f"is longer than {MAX_REFERENCE_LENGTH} characters")
        return text

    def profile(self, row: RecipientRow, flat: Mapping[str, Any]) -> None:
        row.stage = self.choice("stage", flat.get("stage"), STAGES) or ""
        row.country = self.code("country", flat.get("country"), _COUNTRY, str.upper,
                                "a two-letter country code such as GB") or ""
        row.language = self.code("language", flat.get("language"), _LANGUAGE, str.lower,
                                 "a two-letter language code such as en") or ""
        row.time_zone = self.time_zone(flat.get("time_zone"))
        row.age = self.age(flat.get("age"))
        row.status = self.choice("status", flat.get("status"), IMPORT_STATUSES) or "active"

    def choice(self, name: str, value: Any, allowed: tuple[str, ...]) -> str | None:
        if value is None:
            return None
        text = value.strip() if isinstance(value, str) else value
        if text not in allowed:
            self.fail(name, f"must be one of {', '.join(allowed)}")
            return None
        return text

    def code(self, name: str, value: Any, pattern: re.Pattern, normalise, what: str) -> str | None:  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if not isinstance(value, str) or not pattern.fullmatch(normalise(value.strip())):
            self.fail(name, f"must be {what}")
            return None
        return normalise(value.strip())

    def time_zone(self, value: Any) -> str:
        if value is None:
            return "UTC"
        text = value.strip() if isinstance(value, str) else ""
        if text not in _TIME_ZONES:
            self.fail("time_zone", "must be an IANA time zone such as Europe/London")
            return "UTC"
        return text

    def age(self, value: Any) -> int | None:
        if value is None:
            return None
        number = _whole_number(value)
        if number is None or not 0 <= number <= MAX_AGE:
            self.fail("age", f"must be a whole number from 0 to {MAX_AGE}")
            return None
        return number

    def custom_attributes(self, custom: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, raw in custom.items():
            spec = self.attributes.get(name)
            if spec is None:
                self.fail(name, "is not a field or a declared custom attribute")
                continue
            value = _blank_to_none(raw)
            if value is None:
                continue  # not set: the key is left out
            typed = _attribute_value(spec, value)
            if typed is None:
                self.fail(name, _attribute_problem(spec))
            else:
                values[name] = typed
        return values

    def contacts(self, row: RecipientRow, flat: Mapping[str, Any]) -> None:
        email = self.email(flat.get("email"))
        phone = self.phone(flat.get("phone"))
        row.contacts = [contact for contact in (email, phone) if contact is not None]
        basis = flat.get("consent_basis")
        if row.contacts or basis is not None:
            row.consent_basis = self.choice("consent_basis", basis, CONSENT_BASES) or ""
            if basis is None:
                self.fail("consent_basis", "is required with an email or phone "
                          f"(one of {', '.join(CONSENT_BASES)})")
        source = flat.get("consent_source")
        if source is not None and (not isinstance(source, str) or len(source) > 200):
            self.fail("consent_source", "must be text of at most 200 characters")
        row.consent_source = source.strip() if isinstance(source, str) else ""
        row.consented_at = self.consented_at(flat.get("consented_at"))
        row.verified = self.boolean("verified", flat.get("verified"))

    def email(self, value: Any) -> Contact | None:
        if value is None:
            return None
        normalised = email_normalise(value)
        if normalised is None:
            # The value itself is never repeated back: reports may be shared or logged.
            self.fail("email", EMAIL_PROBLEM)
            return None
        return Contact(ContactChannel.EMAIL, normalised)

    def phone(self, value: Any) -> Contact | None:
        if value is None:
            return None
        normalised = phone_normalise(value)
        if normalised is None:
            self.fail("phone", PHONE_PROBLEM)
            return None
        return Contact(ContactChannel.SMS, normalised)

    def consented_at(self, value: Any) -> datetime | None:
        if value is None:
            return None
        parsed = _parse_moment(value)
        if parsed is None:
            self.fail("consented_at", "must be an ISO 8601 date or date-time")
        elif parsed > self.now:
            self.fail("consented_at", "is in the future")
        elif parsed < EARLIEST:
            self.fail("consented_at", f"is before {EARLIEST.date()}")
        return parsed

    def boolean(self, name: str, value: Any) -> bool:
        if value is None or isinstance(value, bool):
            return bool(value)
        text = str(value).strip().lower()
        if text in {"true", "1", "yes"}:
            return True
        if text not in {"false", "0", "no"}:
            self.fail(name, "must be true or false")
        return False


EMAIL_PROBLEM = "is not a valid email address"
PHONE_PROBLEM = "must be an international number such as +447700900123"


def email_normalise(value: Any) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    # Fast path: the checks validate_email makes for an ordinary address, in the same order;
    # whatever does not pass them (allow-listed hosts, address literals, invalid values) is
    # decided by validate_email itself, so the result is always exactly Django's.
    if "@" in text and len(text) <= 320:
        user, _, domain = text.rpartition("@")
        if _EMAIL_USER.match(user) and _EMAIL_DOMAIN.match(domain):
            return text
    try:
        validate_email(text)
    except ValidationError:
        return None
    return text


def phone_normalise(value: Any) -> str | None:
    """E.164 (+ and 7-15 digits); spaces, dots, dashes and brackets are dropped, 00 becomes +."""
    text = _PHONE_PUNCTUATION.sub("", value) if isinstance(value, str) else ""
    if text.startswith("00"):
        text = "+" + text[2:]
    return text if _PHONE.fullmatch(text) else None


def contact_normalise(channel: str, value: Any) -> str | None:
    """The form a contact value is sealed and indexed in; None if invalid for the channel."""
    return email_normalise(value) if channel == ContactChannel.EMAIL else phone_normalise(value)


def _blank_to_none(value: Any) -> Any:
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value):
        return int(value)
    return None


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str) and _NUMBER.fullmatch(value):
        number = float(value) if "." in value else int(value)
    else:
        return None
    if abs(number) > 10**15:
        return None
    return int(number) if isinstance(number, float) and number.is_integer() else number


def _attribute_value(spec: AttributeSpec, value: Any) -> Any:
    if spec.type == FieldType.NUMBER:
        return _number(value)
    if spec.type == FieldType.DATE:
        if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
            try:
                return date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                return None
        return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if spec.type == FieldType.CHOICE:
        return text if text in spec.choices else None
    return text if len(text) <= MAX_TEXT_LENGTH else None


def _attribute_problem(spec: AttributeSpec) -> str:
    return {
        FieldType.NUMBER: "must be a number",
        FieldType.DATE: "must be a date written as YYYY-MM-DD",
        FieldType.CHOICE: f"must be one of {', '.join(spec.choices)}",
        FieldType.TEXT: f"must be text of at most {MAX_TEXT_LENGTH} characters",
    }[spec.type]


def _parse_moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        moment = parse_datetime(text)
    except ValueError:
        return None
    if moment is None:
        try:
            day = date.fromisoformat(text) if len(text) == 10 else None
        except ValueError:
            return None
        if day is None:
            return None
        moment = datetime(day.year, day.month, day.day)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, ZoneInfo("UTC"))
    return moment

