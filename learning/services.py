"""Writes for learning modules: authoring, review (four eyes) and publication.

Review: draft -> in_review -> approved -> published, through this app's transition table and
`organisations.transitions.transition`, the mechanism campaigns use: a conditional UPDATE (two
concurrent transitions cannot both win) and an audit row each. The approver passes
`organisations.review.four_eyes_refusal`, the same rule campaigns use: a reviewer or manager
who neither wrote nor submitted the module. Approval stores a hash
of the content (lessons in every language, questions); editing an in-review or approved module
returns it to draft, and a published module must be revised (back to draft) before editing.

Publishing registers the module in the directory as a help resource hosted here (its public
page is the URL), confirmed by the publisher: a campaign step for the module's audience then
signposts it like any help service, through the signed /go/ redirect.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core.errors import Conflict, Forbidden, InvalidInput
from directory.models import HelpResource
from directory.services import help_resource_confirm, help_resource_create, help_resource_update
from learning.models import (
    Audience,
    Lesson,
    LessonText,
    Module,
    Question,
    ReviewState,
)
from organisations.models import Organisation
from organisations.review import four_eyes_refusal
from organisations.services import Actor, audit_record
from organisations.transitions import TransitionTable, transition, transition_require

S = ReviewState
MODULE_FIELDS = ("slug", "title", "summary", "audience", "kind", "jurisdiction",
                 "default_language", "languages", "countries")
TRANSITIONS: TransitionTable = {
    "submit": (frozenset({S.DRAFT}), S.IN_REVIEW),
    "approve": (frozenset({S.IN_REVIEW}), S.APPROVED),
    "reject": (frozenset({S.IN_REVIEW}), S.DRAFT),
    "publish": (frozenset({S.APPROVED}), S.PUBLISHED),
    "revise": (frozenset({S.IN_REVIEW, S.APPROVED, S.PUBLISHED}), S.DRAFT),
}
RETURNS_TO_DRAFT = frozenset({S.IN_REVIEW, S.APPROVED})
MAX_CHOICES = 8
MAX_CHOICE_CHARS = 300

# The directory's audience for each learning audience (what a campaign's segment stage maps to).
RESOURCE_AUDIENCE = {Audience.PARENT_CARER: "concerned_family_or_friend"}


class NotAllowed(Forbidden):
    """E.g. approving one's own module: HTTP 403."""


# --- content hash -----------------------------------------------------------------------------

def module_content(module: Module) -> dict[str, Any]:
    """Everything a reviewer signs off."""
    return {
        **{f: getattr(module, f) for f in MODULE_FIELDS},
        "lessons": [{"position": lesson.position,
                     "texts": [[t.language, t.title, t.body]
                               for t in lesson.texts.order_by("language")]}
                    for lesson in module.lessons.order_by("position")],
        "questions": [[q.position, q.prompt, q.choices, q.correct_choice]
                      for q in module.questions.order_by("position", "pk")],
    }


def module_content_hash(module: Module) -> str:
    encoded = json.dumps(module_content(module), sort_keys=True, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


# --- authoring --------------------------------------------------------------------------------

def _clean(instance: Any, exclude: list[str] | None = None) -> None:
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as error:
        name, messages = next(iter(error.message_dict.items()))
        raise InvalidInput(" ".join(messages), field=name) from error


def _check_fields(fields: dict) -> None:
    unknown = sorted(set(fields) - set(MODULE_FIELDS))
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(unknown)}.", field=unknown[0])


@transaction.atomic
def module_create(*, organisation: Organisation, actor: Actor, **fields: Any) -> Module:
    _check_fields(fields)
    module = Module(organisation=organisation, created_by=actor.signed_in_user, **fields)
    module.languages = module.languages or [module.default_language]
    _clean(module, exclude=["organisation", "help_resource"])
    module.save()
    audit_record(organisation=organisation, actor=actor, action="learning.module.create",
                 target=module, changes={"title": module.title, "kind": module.kind})
    return module


def _content_edit(module: Module, actor: Actor) -> None:
    """Editing content: a published module must be revised first; in review returns to draft."""
    module.refresh_from_db(fields=["state"])
    if module.state == S.PUBLISHED:
        raise Conflict("A published module cannot be edited: revise it (back to draft) first.",
                       current_state=module.state)
    if module.state in RETURNS_TO_DRAFT:
        _transition(module=module, action="revise", actor=actor,
                    changes={"reason": "content edited"})


@transaction.atomic
def module_update(*, module: Module, actor: Actor, **fields: Any) -> Module:
    _check_fields(fields)
    changed = {name: [getattr(module, name), value] for name, value in fields.items()
               if getattr(module, name) != value}
    if not changed:
        return module
    _content_edit(module, actor)
    for name, (_, value) in changed.items():
        setattr(module, name, value)
    _clean(module, exclude=["organisation", "help_resource"])
    module.save()
    audit_record(organisation=module.organisation, actor=actor, action="learning.module.update",
                 target=module, changes=json.loads(json.dumps(changed, default=str)))
    return module


@transaction.atomic
def lesson_put(*, module: Module, actor: Actor, position: int, language: str, title: str,
               body: str) -> LessonText:
    """Create or replace the lesson at `position` in `language`."""
    _content_edit(module, actor)
    lesson, _ = Lesson.objects.get_or_create(module=module, position=position)
    text = LessonText.objects.filter(lesson=lesson, language=language).first() or \
        LessonText(lesson=lesson, language=language)
    text.title, text.body = title, body
    _clean(text, exclude=["lesson"])
    text.save()
    audit_record(organisation=module.organisation, actor=actor, action="learning.lesson.put",
                 target=text, changes={"position": position, "language": language})
    return text


def _check_choices(choices: Any, correct_choice: Any) -> None:
    if (not isinstance(choices, list) or not 2 <= len(choices) <= MAX_CHOICES
            or not all(isinstance(c, str) and 0 < len(c) <= MAX_CHOICE_CHARS for c in choices)):
        raise InvalidInput(f"Give 2 to {MAX_CHOICES} answer options, each a text of at most "
                           f"{MAX_CHOICE_CHARS} characters.", field="choices")
    if not isinstance(correct_choice, int) or not 0 <= correct_choice < len(choices):
        raise InvalidInput("correct_choice must be the index of one of the options.",
                           field="correct_choice")


@transaction.atomic
def question_put(*, module: Module, actor: Actor, position: int, prompt: str,
                 choices: list[str], correct_choice: int) -> Question:
    _check_choices(choices, correct_choice)
    _content_edit(module, actor)
    question = Question.objects.filter(module=module, position=position).first() or \
        Question(module=module, position=position)
    question.prompt, question.choices, question.correct_choice = prompt, choices, correct_choice
    _clean(question, exclude=["module"])
    question.save()
    audit_record(organisation=module.organisation, actor=actor, action="learning.question.put",
                 target=question, changes={"position": position})
    return question


# --- review -------------------------------------------------------------------------------------

def _transition(*, module: Module, action: str, actor: Actor, updates: dict | None = None,
                changes: dict | None = None) -> Module:
    return transition(instance=module, table=TRANSITIONS, action=action, actor=actor,
                      audit_prefix="learning.module", noun="module",
                      updates={"updated_at": timezone.now(), **(updates or {})}, changes=changes)


def _require(module: Module, action: str) -> None:
    transition_require(table=TRANSITIONS, action=action, state=module.state, noun="module")


@transaction.atomic
def module_submit(*, module: Module, actor: Actor) -> Module:
    _require(module, "submit")
    if not module.lessons.filter(texts__language=module.default_language).exists():
        raise InvalidInput(f"Add at least one lesson in {module.default_language} first.",
                           field="lessons")
    return _transition(module=module, action="submit", actor=actor,
                       updates={"submitted_by": actor.signed_in_user,
                                "content_hash": module_content_hash(module)})


def approval_refusal(*, module: Module, actor: Actor) -> str | None:
    return four_eyes_refusal(organisation=module.organisation, actor=actor,
                             author_ids=(module.created_by_id, module.submitted_by_id),
                             noun="module")


@transaction.atomic
def module_approve(*, module: Module, actor: Actor) -> Module:
    _require(module, "approve")
    refusal = approval_refusal(module=module, actor=actor)
    if refusal:
        raise NotAllowed(refusal)
    content_hash = module_content_hash(module)
    if content_hash != module.content_hash:
        raise Conflict("The content changed after it was submitted: submit it again.",
                       current_state=module.state)
    return _transition(module=module, action="approve", actor=actor,
                       updates={"approved_by": actor.signed_in_user,
                                "approved_at": timezone.now(),
                                "review_requested_at": None},
                       changes={"content_hash": content_hash})


@transaction.atomic
def module_reject(*, module: Module, actor: Actor, reason: str = "") -> Module:
    _require(module, "reject")
    return _transition(module=module, action="reject", actor=actor,
                       changes={"reason": reason[:500]})


@transaction.atomic
def module_publish(*, module: Module, actor: Actor) -> Module:
    """Approved -> published, and its directory entry ("hosted here") confirmed."""
    _require(module, "publish")
    if module_content_hash(module) != module.content_hash:
        raise Conflict("The content changed after approval: it must be reviewed again.",
                       current_state=module.state)
    module = _transition(module=module, action="publish", actor=actor,
                         updates={"published_at": timezone.now()})
    _hosted_resource_publish(module, actor)
    return module


@transaction.atomic
def module_revise(*, module: Module, actor: Actor, reason: str = "") -> Module:
    """Back to draft (to edit); a published module stops being signposted."""
    module = _transition(module=module, action="revise", actor=actor,
                         changes={"reason": reason[:500]})
    if module.help_resource_id:
        HelpResource.objects.filter(pk=module.help_resource_id).update(
            confirmed_at=None, confirmed_by=None)
    return module


# --- the module as a hosted help resource -------------------------------------------------------

def module_public_path(module: Module) -> str:
    return reverse("learning:module", args=[module.organisation.slug, module.slug])


def module_public_url(module: Module) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + module_public_path(module)


def _resource_fields(module: Module) -> dict[str, Any]:
    return {
        "name": module.title[:200], "description": module.summary,
        "provider_organisation": module.organisation.name, "kind": "self_help_programme",
        "audiences": [RESOURCE_AUDIENCE.get(module.audience, "professional")],
        "countries": list(module.countries) or ["*"],
        "languages": [code.split("-")[0] for code in (module.languages or ["en"])],
        "url": module_public_url(module), "source_status": "verified", "anonymous": True,
        "cost": "Free",
    }


def _hosted_resource_publish(module: Module, actor: Actor) -> None:
    fields = _resource_fields(module)
    if module.help_resource_id:
        resource = help_resource_update(resource=module.help_resource, actor=actor, **fields)
    else:
        resource = help_resource_create(organisation=module.organisation, actor=actor,
                                        slug=f"learning-{module.slug}"[:120], **fields)
        Module.objects.filter(pk=module.pk).update(help_resource=resource)
        module.help_resource = resource
    help_resource_confirm(resource=resource, actor=actor,
                          note="Learning module hosted here, published after review.")

