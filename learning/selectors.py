"""Reads for learning: public modules, lessons in the learner's language, learners by token.

Admin reads are scoped to the caller's organisation by `OrganisationScopedAdmin`; public reads
only ever find published modules, and a learner only through the hash of their token.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db.models import QuerySet

from core.locales import language_chain
from learning.models import Learner, Lesson, LessonText, Module, ModuleKind, ReviewState
from organisations.models import Organisation

TOKEN_CHARS = 64  # a token longer than this is not one of ours (tokens are 43 characters)


def token_hash(token: str) -> str:
    # The token carries 256 random bits: a fast hash cannot be brute-forced.
    return hashlib.sha256(token.encode()).hexdigest()


def module_public(*, organisation_slug: str, slug: str) -> Module | None:
    """A published module by its public address, or None."""
    return (Module.objects.select_related("organisation")
            .filter(organisation__slug=organisation_slug, slug=slug,
                    state=ReviewState.PUBLISHED).first())


def modules_public(*, organisation: Organisation) -> QuerySet[Module]:
    return Module.objects.filter(organisation=organisation, state=ReviewState.PUBLISHED)


def learner_by_token(token: str) -> Learner | None:
    """The learner whose resume link this is (published module only), or None."""
    if not token or len(token) > TOKEN_CHARS:
        return None
    return (Learner.objects.select_related("module", "module__organisation")
            .filter(token_hash=token_hash(token), module__state=ReviewState.PUBLISHED).first())


def module_languages(module: Module) -> list[str]:
    return list(module.languages or [module.default_language])


def lesson_language(module: Module, requested: str | None) -> list[str]:
    """The one fallback chain: requested, its base, the module's languages, its default."""
    return language_chain(requested, module_languages(module), module.default_language)


@dataclass(frozen=True)
class LessonView:
    lesson: Lesson
    text: LessonText | None

    @property
    def title(self) -> str:
        return self.text.title if self.text else f"Lesson {self.lesson.position}"


def lessons_for(module: Module, *, language: str | None) -> list[LessonView]:
    """Every lesson in the first language of the chain it exists in (one query)."""
    chain = lesson_language(module, language)
    lessons = list(module.lessons.prefetch_related("texts").order_by("position"))
    views = []
    for lesson in lessons:
        texts = {t.language: t for t in lesson.texts.all()}
        text = next((texts[code] for code in chain if code in texts), None)
        views.append(LessonView(lesson=lesson, text=text))
    return views


def modules_needing_review(*, organisation: Organisation) -> QuerySet[Module]:
    """Law modules whose directory sources changed since generation (see learning.law)."""
    return Module.objects.filter(organisation=organisation, kind=ModuleKind.LAW_EXPLAINED,
                                 review_requested_at__isnull=False)
