"""Writes for learners: enrolment (attributed to the invitation's exposure), progress, the
knowledge check, completion and mentoring requests.

A learner has no account: enrolment returns a random token once (the resume link) and stores
only its SHA-256. An invitation link carries a signed `via` reference (added by the /go/
redirect for resources hosted here, interventions.links); enrolment and completion are then
outcomes of that exposure, written through evaluation's outcome writer, so the campaign report
counts them like help clicks. Answers: the first answer to a question in a phase counts (a
unique key; a repeat is ignored). These are the public's own actions, so no audit row is
written for them (the audit log is for staff and partner actions).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from core.envelope import DESTROYED
from core.errors import InvalidInput
from core.vocabulary import OutcomeKind
from evaluation.models import Exposure
from evaluation.services import outcome_record
from interventions.links import BadLink, via_target
from learning.contacts import contact_seal, email_checked
from learning.models import (
    Answer,
    Learner,
    Lesson,
    LessonProgress,
    MentoringRequest,
    MentoringState,
    Module,
    Phase,
    Question,
)
from learning.resume import email_index
from learning.selectors import token_hash
from organisations.services import Actor, audit_record

logger = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 4  # an answer is the number of an option
MAX_CONTACT_CHARS = 200
MAX_MESSAGE_CHARS = 2000
DEFAULT_MENTORING_RETENTION_DAYS = 90


class BadInvitation(Exception):
    """The invitation's `via` reference is not ours, too old, or for another module."""


# --- enrolment ----------------------------------------------------------------------------------

def invitation_exposure(*, module: Module, via: str) -> Exposure:
    """The exposure an invitation link names, checked against the module it leads to."""
    try:
        target = via_target(via)
    except BadLink as error:
        raise BadInvitation(error.reason) from error
    if module.help_resource_id is None or target.resource_id != module.help_resource_id:
        raise BadInvitation("other module")
    exposure = Exposure.objects.filter(pk=target.exposure_id,
                                       organisation_id=module.organisation_id).first()
    if exposure is None:
        raise BadInvitation("unknown exposure")
    return exposure


def _email_fields(email: str, module: Module) -> dict[str, str]:
    email = email_checked(email, invalid="Enter a valid email address, or leave it empty.")
    if not email:
        return {}
    wrapped, sealed = contact_seal({"email": email}, organisation_id=module.organisation_id)
    return {"data_key": wrapped, "email_sealed": sealed["email"],
            "email_index": email_index(email, module_id=module.pk)}


@transaction.atomic
def learner_enrol(*, module: Module, via: str = "", email: str = "", language: str = "",
                  resume_url: object = None, at: datetime | None = None,
                  simulated: bool = False) -> tuple[Learner, str]:
    """Enrol a new pseudonymous learner; returns (learner, token). BadInvitation for a bad via.

    `resume_url(token) -> str` builds the link emailed to the learner when they gave an email.
    """
    at = at or timezone.now()
    exposure = invitation_exposure(module=module, via=via) if via else None
    token = secrets.token_urlsafe(32)
    learner = Learner.objects.create(
        module=module, organisation_id=module.organisation_id, token_hash=token_hash(token),
        language=language[:8], exposure=exposure, enrolled_at=at, simulated=simulated,
        campaign_id=exposure.campaign_id if exposure else None,
        arm_id=exposure.arm_id if exposure else None, **_email_fields(email, module))
    if exposure is not None:
        outcome_record(exposure=exposure, kind=OutcomeKind.MODULE_ENROLLED, at=at,
                       idempotency_key=f"learning:enrolled:{exposure.pk}:{module.pk}")
    if email.strip() and callable(resume_url):
        link = resume_url(token)
        transaction.on_commit(lambda: _send_resume_link(email.strip(), module.title, link))
    return learner, token


def _send_resume_link(email: str, title: str, link: str) -> None:
    try:
        send_mail(subject=f"Your link to continue: {title}",
                  message=(f"You enrolled in '{title}'. Continue where you left off:\n\n{link}"
                           "\n\nKeep this link private: anyone with it can see your progress."),
                  from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[email])
    except (OSError, ValueError) as error:  # the enrolment stands; the page shows the link too
        logger.warning("resume link not sent: %s", type(error).__name__)


# --- progress and completion ----------------------------------------------------------------

@dataclass(frozen=True)
class LearnerState:
    lessons_done: frozenset[int]
    lesson_count: int
    has_questions: bool
    pre_done: bool
    post_done: bool
    completed: bool

    @property
    def lessons_finished(self) -> bool:
        return len(self.lessons_done) >= self.lesson_count

    @property
    def next_step(self) -> str:
        if self.completed:
            return "certificate"
        if self.has_questions and not self.pre_done:
            return "pre"
        if not self.lessons_finished:
            return "lesson"
        return "post"


def learner_state(learner: Learner) -> LearnerState:
    phases = set(learner.answers.values_list("phase", flat=True).distinct())
    return LearnerState(
        lessons_done=frozenset(learner.progress.values_list("lesson_id", flat=True)),
        lesson_count=learner.module.lessons.count(),
        has_questions=learner.module.questions.exists(),
        pre_done=Phase.PRE in phases, post_done=Phase.POST in phases,
        completed=learner.completed_at is not None)


@transaction.atomic
def lesson_complete(*, learner: Learner, lesson: Lesson, at: datetime | None = None) -> None:
    if lesson.module_id != learner.module_id:
        raise InvalidInput("This lesson is not part of the module.", field="lesson")
    LessonProgress.objects.get_or_create(learner=learner, lesson=lesson,
                                         defaults={"completed_at": at or timezone.now()})
    _complete_if_done(learner, at=at)


def _complete_if_done(learner: Learner, *, at: datetime | None = None) -> None:
    state = learner_state(learner)
    if state.completed or not state.lessons_finished:
        return
    if state.has_questions and not state.post_done:
        return
    at = at or timezone.now()
    # Conditional: two concurrent requests complete (and count) once.
    if not Learner.objects.filter(pk=learner.pk, completed_at__isnull=True).update(
            completed_at=at):
        return
    learner.completed_at = at
    if learner.exposure_id:
        outcome_record(exposure=learner.exposure, kind=OutcomeKind.MODULE_COMPLETED, at=at,
                       idempotency_key=f"learning:completed:{learner.exposure_id}:"
                                       f"{learner.module_id}")


# --- the knowledge check --------------------------------------------------------------------

def _parse_answers(questions: list[Question], raw: dict[str, str]) -> dict[int, int]:
    parsed = {}
    for number, question in enumerate(questions, start=1):
        value = (raw.get(f"q{question.pk}") or "").strip()
        if len(value) > MAX_ANSWER_CHARS:
            raise InvalidInput(f"The answer to question {number} is too long: choose one of "
                               "the options.", field=f"q{question.pk}")
        if not value:
            raise InvalidInput(f"Question {number} has no answer: choose one of the options.",
                               field=f"q{question.pk}")
        if not value.isdigit() or int(value) >= len(question.choices):
            raise InvalidInput(f"The answer to question {number} is not one of its options.",
                               field=f"q{question.pk}")
        parsed[question.pk] = int(value)
    return parsed


@transaction.atomic
def answers_record(*, learner: Learner, phase: str, raw: dict[str, str],
                   at: datetime | None = None) -> int:
    """Record the answers of one phase; the first answer to each question counts.

    Returns how many answers were new (0 when the phase had been answered already).
    """
    if phase not in Phase.values:
        raise InvalidInput("Unknown knowledge check.", field="phase")
    state = learner_state(learner)
    if phase == Phase.POST and not state.lessons_finished:
        raise InvalidInput("Finish the lessons before the final questions.", field="phase")
    questions = list(learner.module.questions.order_by("position", "pk"))
    parsed = _parse_answers(questions, raw)
    at = at or timezone.now()
    rows = [Answer(learner=learner, question=q, phase=phase, choice=parsed[q.pk],
                   correct=parsed[q.pk] == q.correct_choice, answered_at=at) for q in questions]
    before = learner.answers.filter(phase=phase).count()
    Answer.objects.bulk_create(rows, ignore_conflicts=True)
    new = learner.answers.filter(phase=phase).count() - before
    if phase == Phase.POST:
        _complete_if_done(learner, at=at)
    return new


# --- mentoring requests -----------------------------------------------------------------------

def _bounded(value: str, *, limit: int, field: str, what: str) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise InvalidInput(f"The {what} is too long (at most {limit} characters).", field=field)
    return value


@transaction.atomic
def mentoring_request_create(*, learner: Learner, contact: str, message: str = "",
                             at: datetime | None = None) -> MentoringRequest:
    contact = _bounded(contact, limit=MAX_CONTACT_CHARS, field="contact",
                       what="contact detail")
    if not contact:
        raise InvalidInput("Tell us how to reach you (an email address or a telephone number).",
                           field="contact")
    message = _bounded(message, limit=MAX_MESSAGE_CHARS, field="message", what="message")
    module = learner.module
    wrapped, sealed = contact_seal({"contact": contact, "message": message},
                                   organisation_id=module.organisation_id)
    return MentoringRequest.objects.create(
        organisation_id=module.organisation_id, module=module, learner=learner,
        audience=module.audience, data_key=wrapped, contact_sealed=sealed["contact"],
        message_sealed=sealed.get("message", ""), created_at=at or timezone.now())


@transaction.atomic
def mentoring_request_set_state(*, request: MentoringRequest, state: str,
                                actor: Actor) -> MentoringRequest:
    if state not in MentoringState.values:
        raise InvalidInput("Unknown state.", field="state")
    previous, request.state = request.state, state
    request.handled_at = timezone.now() if state != MentoringState.OPEN else None
    request.save(update_fields=["state", "handled_at"])
    audit_record(organisation=request.organisation, actor=actor,
                 action="learning.mentoring.set_state", target=request,
                 changes={"from": previous, "to": state})
    return request


def mentoring_retention_days() -> int:
    return int(getattr(settings, "LEARNING_MENTORING_RETENTION_DAYS",
                       DEFAULT_MENTORING_RETENTION_DAYS))


@transaction.atomic
def mentoring_requests_purge(*, now: datetime | None = None) -> int:
    """Delete requests older than the retention window: their contact details go with them.
    Learners' emails (only for the resume link) are crypto-shredded after the same window."""
    cutoff = (now or timezone.now()) - timedelta(days=mentoring_retention_days())
    deleted, _ = MentoringRequest.objects.filter(created_at__lt=cutoff).delete()
    shredded = (Learner.objects.filter(enrolled_at__lt=cutoff).exclude(email_sealed="")
                .update(data_key=DESTROYED, email_sealed="", email_index=""))
    if deleted or shredded:
        logger.info("mentoring requests purged: %d; learner emails shredded: %d", deleted,
                    shredded)
    return deleted
