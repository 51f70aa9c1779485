"""The law explained: a module generated from the directory's legal notice and statutes for one
jurisdiction (what is illegal, penalties, reporting duties, where to get help), kept in step.

The module stores the SHA-256 of the directory records it was generated from (`sources_hash`).
`law_modules_check` recomputes it: when a legal notice, a statute or a signposted help service
changed, the module is marked for re-review (`review_requested_at`, an audit row) and the admin
flags it; regenerating it (`law_module_generate`) returns it to draft for the four-eyes review.
The text quoted from the directory is escaped, so it renders literally whatever it contains.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import InvalidInput
from directory.models import LegalNotice
from directory.selectors import Signpost, help_resources_for, legal_notice_for
from learning.markdown import markdown_escape as q
from learning.models import Audience, Lesson, Module, ModuleKind, Question, ReviewState
from learning.services import (
    RESOURCE_AUDIENCE,
    lesson_put,
    module_create,
    module_revise,
    question_put,
)
from organisations.models import Organisation
from organisations.services import Actor, audit_record

MAX_HELP_RESOURCES = 6


@dataclass(frozen=True)
class LawSources:
    notice: LegalNotice
    resources: list[Signpost]

    def as_dict(self) -> dict[str, Any]:
        notice = self.notice
        return {
            "jurisdiction": notice.jurisdiction, "also_applies_to": notice.also_applies_to,
            "level": notice.level, "confidentiality_note": notice.confidentiality_note,
            "source_checked_on": str(notice.source_checked_on or ""),
            "statutes": [s.as_dict() for s in notice.statutes.all()],
            "resources": [[r.pk, r.name, r.description, r.phone or "", r.url or ""]
                          for r in self.resources],
        }

    @property
    def hash(self) -> str:
        encoded = json.dumps(self.as_dict(), sort_keys=True, default=str)
        return hashlib.sha256(encoded.encode()).hexdigest()


def law_sources(*, organisation: Organisation, jurisdiction: str, audience: str,
                language: str = "en") -> LawSources | None:
    """The legal notice for the jurisdiction and the help it can signpost; None without one."""
    notice = legal_notice_for(organisation=organisation, jurisdiction=jurisdiction)
    if notice is None:
        return None
    hosted = set(Module.objects.filter(help_resource__isnull=False)
                 .values_list("help_resource_id", flat=True))
    resources = [r for r in help_resources_for(
        organisation=organisation, country=jurisdiction[:2], language=language.split("-")[0],
        audience=RESOURCE_AUDIENCE.get(audience, "professional")) if r.pk not in hosted]
    return LawSources(notice=notice, resources=resources[:MAX_HELP_RESOURCES])


# --- the generated text ----------------------------------------------------------------------

def _illegal(sources: LawSources) -> str:
    notice = sources.notice
    lines = [f"This lesson sets out the criminal law on sexual images of children in "
             f"{q(notice.jurisdiction)}{' (' + q(notice.level) + ')' if notice.level else ''}, "
             "as the programme's legal reference records it.", ""]
    for statute in notice.statutes.all():
        lines.append(f"- **{q(statute.name)} {q(statute.section)}**: {q(statute.offence_summary)}")
    lines += ["", "Images made with software (\"pseudo-photographs\") are covered where the "
              "statute says so. Viewing, downloading and sharing can each be an offence."]
    return "\n".join(lines)


def _penalties(sources: LawSources) -> str:
    lines = ["The maximum penalties the statutes set:", ""]
    for statute in sources.notice.statutes.all():
        penalty = q(statute.max_penalty) if statute.max_penalty else "not recorded"
        lines.append(f"- **{q(statute.name)} {q(statute.section)}**: {penalty}")
    lines += ["", "A conviction can also bring registration requirements and restrictions on "
              "working with children."]
    return "\n".join(lines)


def _reporting(sources: LawSources) -> str:
    note = sources.notice.confidentiality_note
    lines = ["If a child is in immediate danger, call the emergency number.", "",
             "Follow your organisation's safeguarding procedure and record what you were told, "
             "in the person's words, without investigating yourself."]
    if note:
        lines += ["", "What the legal reference records about confidentiality and mandatory "
                  "reporting here:", "", f"> {q(note)}"]
    else:
        lines += ["", "The legal reference records no specific reporting duty for this "
                  "jurisdiction: ask your safeguarding lead which duties apply to your role."]
    return "\n".join(lines)


def _help(sources: LawSources) -> str:
    lines = ["Someone worried about their own thoughts or behaviour can get confidential help "
             "before anyone is harmed. Services you can point people to:", ""]
    for resource in sources.resources:
        contact = " ".join(part for part in (
            f"telephone {q(resource.phone)}" if resource.phone else "",
            f"<{resource.url}>" if resource.url else "") if part)
        lines.append(f"- **{q(resource.name)}**: {q(resource.description)} {contact}".rstrip())
    if not sources.resources:
        lines.append("- No confirmed service is listed for this jurisdiction yet.")
    return "\n".join(lines)


LESSONS = (("What the law says is illegal", _illegal), ("Penalties", _penalties),
           ("Reporting duties and confidentiality", _reporting), ("Where to get help", _help))


def _questions(sources: LawSources) -> list[tuple[str, list[str], int]]:
    questions = [("If a child is in immediate danger, what should you do first?",
                  ["Call the emergency number", "Wait for the next team meeting",
                   "Investigate it yourself"], 0)]
    penalties = [s for s in sources.notice.statutes.all() if s.max_penalty]
    if penalties:
        statute = penalties[0]
        questions.append((f"What is the maximum penalty under {statute}?"[:500],
                          [statute.max_penalty[:300], "A fine only", "There is no penalty"], 0))
    if sources.resources:
        questions.append(("Can a person worried about their own thoughts get confidential "
                          "help before anyone is harmed?",
                          [f"Yes, for example from {sources.resources[0].name}"[:300],
                           "No, only after an arrest"], 0))
    return questions


# --- generate and keep in step ---------------------------------------------------------------

@transaction.atomic
def law_module_generate(*, organisation: Organisation, jurisdiction: str, actor: Actor,
                        audience: str = Audience.OTHER, language: str = "en",
                        module: Module | None = None) -> Module:
    """Create (or regenerate) the module from the directory; it starts as a draft for review."""
    jurisdiction = jurisdiction.strip().upper()
    sources = law_sources(organisation=organisation, jurisdiction=jurisdiction,
                          audience=audience, language=language)
    if sources is None:
        raise InvalidInput(f"The directory has no legal notice for {jurisdiction}.",
                           field="jurisdiction")
    if module is None:
        module = module_create(
            organisation=organisation, actor=actor, kind=ModuleKind.LAW_EXPLAINED,
            slug=f"law-{jurisdiction.lower()}-{audience.replace('_', '-')}",
            title=f"The law explained: {jurisdiction}", audience=audience,
            jurisdiction=jurisdiction, default_language=language, languages=[language],
            countries=[jurisdiction[:2]],
            summary="What is illegal, the penalties, reporting duties and where to get help.")
    elif module.state == ReviewState.PUBLISHED:
        module_revise(module=module, actor=actor, reason="regenerated from the directory")
    for position, (title, build) in enumerate(LESSONS, start=1):
        lesson_put(module=module, actor=actor, position=position, language=language,
                   title=title, body=build(sources))
    Lesson.objects.filter(module=module, position__gt=len(LESSONS)).delete()
    generated = _questions(sources)
    for position, (prompt, choices, correct) in enumerate(generated, start=1):
        question_put(module=module, actor=actor, position=position, prompt=prompt,
                     choices=choices, correct_choice=correct)
    Question.objects.filter(module=module, position__gt=len(generated)).delete()
    Module.objects.filter(pk=module.pk).update(sources_hash=sources.hash,
                                               review_requested_at=None)
    module.sources_hash, module.review_requested_at = sources.hash, None
    audit_record(organisation=organisation, actor=actor, action="learning.law.generate",
                 target=module, changes={"jurisdiction": jurisdiction,
                                         "sources_hash": sources.hash})
    return module


def law_module_sources_changed(module: Module) -> bool:
    """True when the directory records behind the module are no longer what it was built from."""
    sources = law_sources(organisation=module.organisation, jurisdiction=module.jurisdiction,
                          audience=module.audience, language=module.default_language)
    return sources is None or sources.hash != module.sources_hash


@transaction.atomic
def law_modules_check(*, organisation: Organisation | None = None) -> list[Module]:
    """Mark every law module whose sources changed for re-review; returns the newly marked."""
    modules = Module.objects.filter(kind=ModuleKind.LAW_EXPLAINED,
                                    review_requested_at__isnull=True).select_related(
        "organisation")
    if organisation is not None:
        modules = modules.filter(organisation=organisation)
    marked = []
    for module in modules:
        if module.state == ReviewState.DRAFT or not law_module_sources_changed(module):
            continue
        module.review_requested_at = timezone.now()
        Module.objects.filter(pk=module.pk).update(review_requested_at=module.review_requested_at)
        audit_record(organisation=module.organisation, actor=Actor.system(),
                     action="learning.law.sources_changed", target=module,
                     changes={"sources_hash": module.sources_hash})
        marked.append(module)
    return marked
