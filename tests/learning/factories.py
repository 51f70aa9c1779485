"""Builders for learning tests: modules written by the manager and reviewed by the reviewer."""

from __future__ import annotations

from learning import services
from learning.models import Module
from organisations.services import Actor
from tests.conftest import Tenant

QUESTIONS = (
    ("Who can a worried person call in confidence?", ["A confidential helpline", "Nobody"], 0),
    ("What do you do first if a child is in immediate danger?",
     ["Wait a week", "Call the emergency number", "Nothing"], 1),
    ("Can help be offered before anyone is harmed?", ["No", "Yes"], 1),
)


def draft_module(tenant: Tenant, *, slug: str = "recognising-concerns", lessons: int = 2,
                 questions: int = 3, audience: str = "teacher", **fields: object) -> Module:
    author = Actor(user=tenant.manager)
    module = services.module_create(
        organisation=tenant.organisation, actor=author, slug=slug,
        title="Recognising and responding to concerns", audience=audience,
        summary="How to respond when a colleague, parent or pupil raises a concern.",
        countries=["GB"], **fields)
    for position in range(1, lessons + 1):
        services.lesson_put(module=module, actor=author, position=position, language="en",
                            title=f"Lesson {position}",
                            body=f"## Part {position}\n\nConfidential help exists.")
    for position, (prompt, choices, correct) in enumerate(QUESTIONS[:questions], start=1):
        services.question_put(module=module, actor=author, position=position, prompt=prompt,
                              choices=list(choices), correct_choice=correct)
    return module


def publish(tenant: Tenant, module: Module) -> Module:
    services.module_submit(module=module, actor=Actor(user=tenant.manager))
    services.module_approve(module=module, actor=Actor(user=tenant.reviewer))
    return services.module_publish(module=module, actor=Actor(user=tenant.reviewer))


def published_module(tenant: Tenant, **kwargs: object) -> Module:
    return publish(tenant, draft_module(tenant, **kwargs))


def invitation(tenant: Tenant, module: Module, person: int = 1,
               arm_name: str = "invite") -> tuple[object, str]:
    """An exposure of a campaign arm and the signed `via` the /go/ redirect would append."""
    from interventions.links import via_token
    from tests.evaluation.factories import campaign_with_arms, expose

    campaign, arms = campaign_with_arms(tenant.organisation, {arm_name: "variant"})
    exposure = expose(campaign, arms[arm_name], person)
    return exposure, via_token(exposure_id=exposure.pk, resource_id=module.help_resource_id)
