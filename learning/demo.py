"""Demo data for learning: a reviewed module for teachers and a "law explained" module for one
jurisdiction, with simulated learners so the learning report (and the campaign report's
learning section) is populated.

``seed_demo_learning(programme=, manager=, reviewer=, campaign=None)``: the manager writes, the
reviewer approves and publishes (four eyes). Part of the simulated teachers arrive through
invitations signed for a campaign's exposures, so enrolment and completion show on its report
per arm: the given campaign's, or (None) the demo's own invitation campaign
(`learning.demo_invitation`: running, its email step sends to demo teachers within a minute).
Simulated learners are marked (`simulated=True`). Idempotent: a second call finds the modules,
the campaign and the learners and adds nothing.
"""

from __future__ import annotations

import random
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from core.errors import DomainError
from evaluation.models import Exposure
from evaluation.rollup import rollup_pending
from interventions.links import via_token
from learning import learners, services
from learning.demo_invitation import earlier_invitations_simulate, invitation_campaign_seed
from learning.law import law_module_generate
from learning.models import Learner, Module, ReviewState
from organisations.models import Organisation
from organisations.services import Actor

TEACHER_SLUG = "teachers-recognising-and-responding"
LAW_JURISDICTION = "GB-ENG"
TEACHERS, INVITED, LAW_LEARNERS = 60, 40, 30
PRE_RIGHT, POST_RIGHT = 0.45, 0.8  # chance of a right answer before and after the module
COMPLETION = 0.7

TEACHER_LESSONS = (
    ("Why prevention works",
     "Most people who are worried about their own sexual thoughts about children have not "
     "harmed anyone. **Confidential help works**, and reaching people early protects "
     "children.\n\n- Help lines such as Stop It Now are anonymous.\n- Self-help programmes "
     "are available online, free of charge."),
    ("Responding to a concern",
     "If a pupil, parent or colleague tells you something worrying:\n\n1. Listen and stay "
     "calm.\n2. Do not promise to keep it secret.\n3. Record what you were told in their "
     "words.\n4. Tell your designated safeguarding lead the same day.\n\nIf a child is in "
     "immediate danger, call the emergency number."),
    ("Where to point people",
     "A person worried about their own thoughts can contact a confidential helpline before "
     "anyone is harmed. A worried parent can get advice on keeping children safe online. "
     "Your safeguarding lead has the local contacts."),
)
TEACHER_QUESTIONS = (
    ("A pupil asks you to keep a worry secret. What do you do?",
     ["Promise to keep it secret", "Explain you may need to tell someone who can help",
      "Ignore it"], 1),
    ("When should you tell your designated safeguarding lead?",
     ["The same day", "At the end of term", "Only if asked"], 0),
    ("Can a person worried about their own thoughts get confidential help?",
     ["Only after an arrest", "Yes, before anyone is harmed"], 1),
    ("If a child is in immediate danger, what comes first?",
     ["Call the emergency number", "Write an email to a colleague"], 0),
)


def _teacher_module(programme: Organisation, author: Actor, signer: Actor) -> Module:
    module = Module.objects.filter(organisation=programme, slug=TEACHER_SLUG).first()
    if module is None:
        module = services.module_create(
            organisation=programme, actor=author, slug=TEACHER_SLUG, audience="teacher",
            title="Recognising and responding: prevention for teachers", countries=["GB"],
            summary="Understanding prevention, responding to a concern and where to point "
                    "people for help.")
        for position, (title, body) in enumerate(TEACHER_LESSONS, start=1):
            services.lesson_put(module=module, actor=author, position=position, language="en",
                                title=title, body=body)
        for position, (prompt, choices, right) in enumerate(TEACHER_QUESTIONS, start=1):
            services.question_put(module=module, actor=author, position=position,
                                  prompt=prompt, choices=list(choices), correct_choice=right)
    return _published(module, author, signer)


def _published(module: Module, author: Actor, signer: Actor) -> Module:
    if module.state == ReviewState.DRAFT:
        services.module_submit(module=module, actor=author)
    if module.state == ReviewState.IN_REVIEW:
        services.module_approve(module=module, actor=signer)
    if module.state == ReviewState.APPROVED:
        services.module_publish(module=module, actor=signer)
    return module


def _answers(module: Module, rng: random.Random, right: float) -> dict[str, str]:
    raw = {}
    for question in module.questions.all():
        wrong = [i for i in range(len(question.choices)) if i != question.correct_choice]
        choice = question.correct_choice if rng.random() < right else rng.choice(wrong)
        raw[f"q{question.pk}"] = str(choice)
    return raw


def _simulate(module: Module, vias: list[str], count: int, rng: random.Random) -> int:
    """Simulated learners: some stop early, most finish; returns how many were added."""
    if Learner.objects.filter(module=module, simulated=True).exists():
        return 0
    for n in range(count):
        learner, _ = learners.learner_enrol(module=module, via=vias[n] if n < len(vias) else "",
                                            simulated=True)
        learners.answers_record(learner=learner, phase="pre",
                                raw=_answers(module, rng, PRE_RIGHT))
        if rng.random() > COMPLETION:
            continue
        for lesson in module.lessons.all():
            learners.lesson_complete(learner=learner, lesson=lesson)
        learners.answers_record(learner=learner, phase="post",
                                raw=_answers(module, rng, POST_RIGHT))
    return count


def _invitations(module: Module, campaign: Any, count: int) -> list[str]:
    if campaign is None or module.help_resource_id is None:
        return []
    ids = (Exposure.objects.filter(campaign=campaign, organisation=module.organisation,
                                   is_holdout=False)
           .order_by("occurred_at").values_list("pk", flat=True)[:count])
    return [via_token(exposure_id=pk, resource_id=module.help_resource_id) for pk in ids]


def _report_url(campaign: Any) -> str:
    path = reverse("admin:evaluation_campaign_report", args=[campaign.pk])
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


@transaction.atomic
def seed_demo_learning(*, programme: Organisation, manager: Any, reviewer: Any,
                       campaign: Any = None) -> str:
    """Seed both modules and their simulated learners; returns a one-line summary."""
    author, signer = Actor(user=manager), Actor(user=reviewer)
    rng = random.Random(13)
    teacher = _teacher_module(programme, author, signer)
    own_campaign = campaign is None
    if own_campaign:
        campaign = invitation_campaign_seed(programme=programme, author=author, signer=signer)
        earlier_invitations_simulate(campaign, INVITED)
    added = _simulate(teacher, _invitations(teacher, campaign, INVITED), TEACHERS, rng)
    if own_campaign:
        transaction.on_commit(rollup_pending)  # the campaign report counts them per arm
    summary = (f"Learning: '{teacher.title}' published ({added} simulated learners)\n"
               f"  its page: {services.module_public_url(teacher)}\n"
               f"  campaign '{campaign}' is {campaign.status}; report with its learning section:"
               f" {_report_url(campaign)}")
    if own_campaign:
        summary += "\n  its invitation email to the demo teachers sends within a minute"
    law = Module.objects.filter(organisation=programme, jurisdiction=LAW_JURISDICTION,
                                kind="law_explained").first()
    try:
        law = law or law_module_generate(organisation=programme, jurisdiction=LAW_JURISDICTION,
                                         actor=author, audience="social_worker")
    except DomainError as error:
        return f"{summary}\n  no law module: {error.message}"
    law = _published(law, author, signer)
    added = _simulate(law, [], LAW_LEARNERS, rng)
    return f"{summary}\n  '{law.title}' published ({added} simulated learners)"
