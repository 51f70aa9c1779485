"""Outcome reports from partners and helplines: one event, its checks, and what batches share.

One parser checks an event the same way for the single and the batch form (a hand-written
one: a DRF serializer per line would cost more than the whole insert at 10,000 lines).

Idempotency: an event's key is unique per reporting organisation (the Outcome constraint), so a
replayed event is counted once; the first report of a key wins even if a replay differs.
Batch policy: valid lines are stored, invalid ones are reported by line number and skipped;
a batch over MAX_BATCH_LINES lines or MAX_BATCH_BYTES bytes is refused whole (413).

The NDJSON batch form is `interventions.outcome_batches`, helplines' daily aggregates are
`interventions.aggregates`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.bounds import event_time_problem
from core.edge import text_problem
from core.errors import InvalidInput
from core.vocabulary import OutcomeKind
from evaluation.idempotency import reported_key
from evaluation.models import Outcome
from interventions.selectors import Owner, campaigns_by_referral_code, exposures_reportable_by
from organisations.models import Organisation

REPORTABLE_KINDS = (
    OutcomeKind.HELP_CLICK, OutcomeKind.CHATBOT_ENGAGED, OutcomeKind.INFO_REQUESTED,
    OutcomeKind.HELPLINE_CONTACT, OutcomeKind.SELFHELP_SIGNUP, OutcomeKind.REPEAT_TRIGGER,
    OutcomeKind.SEARCH_ABANDONED,
)
REPORTABLE_KIND_VALUES = frozenset(str(kind) for kind in REPORTABLE_KINDS)
MAX_KEY_CHARS = 120
MAX_BATCH_LINES = 10_000
MAX_BATCH_BYTES = 8 * 1024 * 1024
MAX_REPORTED_ERRORS = 200
_EVENT_FIELDS = frozenset({"kind", "idempotency_key", "intervention_id", "referral_code",
                           "occurred_at"})


@dataclass(frozen=True)
class OutcomeEvent:
    kind: str
    idempotency_key: str
    intervention_id: uuid.UUID | None
    referral_code: str | None
    occurred_at: datetime | None


@dataclass
class BatchReport:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)
    errors_truncated: bool = False

    def reject(self, line: int, errors: dict) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"line": line, "errors": errors})
        else:
            self.errors_truncated = True


@dataclass(frozen=True)
class OutcomeReceipt:
    outcome: Outcome
    duplicate: bool


# --- parsing -----------------------------------------------------------------------------------

Fields = tuple[str, str, "uuid.UUID | None", "str | None", "datetime | None"]
_NULLABLE = ("intervention_id", "occurred_at", "referral_code")  # sorted: the error order


def outcome_event_parse(raw: Any, *, at: datetime) -> OutcomeEvent:
    """Check one event; raise EventErrors naming each bad field."""
    return OutcomeEvent(*event_fields(raw, at=at))


def event_fields(raw: Any, *, at: datetime) -> Fields:
    """(kind, key, intervention id, referral code, occurred_at) of a valid event."""
    if not isinstance(raw, dict):
        raise EventErrors({"non_field_errors": ["Each event must be a JSON object."]})
    errors: dict[str, list[str]] = {}
    if not _EVENT_FIELDS.issuperset(raw):
        unknown = sorted(set(raw) - _EVENT_FIELDS)
        errors["non_field_errors"] = [f"Unknown field(s): {', '.join(unknown)}."]
    if None in raw.values():
        for name in _NULLABLE:  # leave a field out rather than sending null
            if name in raw and raw[name] is None:
                errors[name] = ["May not be null: leave the field out."]
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in REPORTABLE_KIND_VALUES:
        errors["kind"] = [f"Use one of: {', '.join(sorted(REPORTABLE_KIND_VALUES))}."]
    key = raw.get("idempotency_key")
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_CHARS or not key.isprintable():
        errors["idempotency_key"] = [f"A printable string of 1 to {MAX_KEY_CHARS} characters."]
    intervention_id = _intervention_id(raw.get("intervention_id"), errors)
    code = _referral_code(raw.get("referral_code"), errors)
    if "intervention_id" not in errors and "referral_code" not in errors and \
            (intervention_id is None) == (code is None):
        errors["non_field_errors"] = ["Give either intervention_id or referral_code."]
    occurred_at = _occurred_at(raw.get("occurred_at"), errors, at=at)
    if errors:
        raise EventErrors(errors)
    return kind, key, intervention_id, code, occurred_at


class EventErrors(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid event")
        self.errors = errors


def _intervention_id(value: Any, errors: dict) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value) if isinstance(value, str) else _bad()
    except ValueError:
        errors["intervention_id"] = ["Not a valid intervention id (a UUID)."]
        return None


def _bad() -> uuid.UUID:
    raise ValueError


def _referral_code(value: Any, errors: dict) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value.strip()) <= 12:
        errors["referral_code"] = ["A referral code of at most 12 characters."]
        return None
    problem = text_problem(value)  # the other fields' own checks refuse NUL and surrogates
    if problem:
        errors["referral_code"] = [problem]
        return None
    return value.strip().upper()


def _occurred_at(value: Any, errors: dict, *, at: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        errors["occurred_at"] = ["An ISO 8601 date-time with a time zone."]
        return None
    problem = event_time_problem(moment, at=at)
    if problem:
        errors["occurred_at"] = [problem]
        return None
    return moment


def event_too_early(occurred_at: datetime | None, owner: Owner, *, at: datetime) -> str | None:
    """Why an event cannot have happened then, given when its exposure or campaign existed."""
    if occurred_at is None:
        return None
    return event_time_problem(occurred_at, at=at, not_before=owner.since)


# --- resolving and storing one event ------------------------------------------------------------

class OutcomeRow(NamedTuple):
    """A resolved event, ready to store."""

    organisation_id: int
    reported_by_id: int
    campaign_id: int
    exposure_id: uuid.UUID | None
    kind: str
    idempotency_key: str
    occurred_at: datetime
    recorded_at: datetime

    def as_outcome(self) -> Outcome:
        return Outcome(**self._asdict())


def outcome_report(*, reporter: Organisation, raw: Any,
                   at: datetime | None = None) -> OutcomeReceipt:
    """Record one reported outcome; a replayed idempotency key returns the first one."""
    at = at or timezone.now()
    try:
        event = outcome_event_parse(raw, at=at)
    except EventErrors as error:
        raise ValidationError(error.errors) from None
    if event.intervention_id is not None:
        found = exposures_reportable_by(reporter=reporter, ids=[event.intervention_id])
        owner = found.get(event.intervention_id)
        if owner is None:
            raise InvalidInput("Unknown intervention id.", field="intervention_id")
    else:
        found = campaigns_by_referral_code(reporter=reporter, codes=[event.referral_code or ""])
        owner = found.get(event.referral_code or "")
        if owner is None:
            raise InvalidInput("Unknown referral code.", field="referral_code")
    problem = event_too_early(event.occurred_at, owner, at=at)
    if problem:
        raise InvalidInput(problem, field="occurred_at")
    return _save_one(OutcomeRow(
        organisation_id=owner[0], reported_by_id=reporter.pk, campaign_id=owner[1],
        exposure_id=event.intervention_id, kind=event.kind,
        idempotency_key=reported_key(reporter.pk, event.idempotency_key),
        occurred_at=event.occurred_at or at, recorded_at=at).as_outcome())


def _save_one(outcome: Outcome) -> OutcomeReceipt:
    try:
        with transaction.atomic():
            outcome.save(force_insert=True)
        return OutcomeReceipt(outcome=outcome, duplicate=False)
    except IntegrityError:
        existing = Outcome.objects.only("pk").get(  # only the id: a stored row may hold a
            reported_by_id=outcome.reported_by_id,  # date Python cannot represent
            idempotency_key=outcome.idempotency_key)
        return OutcomeReceipt(outcome=existing, duplicate=True)

