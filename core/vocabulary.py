"""Vocabularies shared by several apps (kept here so no app imports another just for a choice)."""

from django.db import models


class AudienceStage(models.TextChoices):
    AT_RISK = "at_risk", "At risk (not known to have offended)"
    OFFENDER = "offender", "Offender (arrested, convicted, on probation)"
    YOUNG_PERSON_HSB = "young_person_hsb", "Young person with harmful sexual behaviour"
    CONCERNED_OTHER = "concerned_other", "Concerned other (family, friends, survivors)"
    PROFESSIONAL = "professional", "Professional"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    WEBHOOK = "webhook", "Webhook to a partner"
    ON_PLATFORM = "on_platform", "On the partner's platform"


class OutcomeKind(models.TextChoices):
    HELP_CLICK = "help_click", "Clicked a help link"
    CHATBOT_ENGAGED = "chatbot_engaged", "Engaged with a chatbot"
    INFO_REQUESTED = "info_requested", "Requested more information"
    HELPLINE_CONTACT = "helpline_contact", "Contacted a helpline"
    # Recorded by the system for conversations on a helpline hosted here (helpline.services),
    # never reported by partners (interventions.outcomes.REPORTABLE_KINDS).
    HELPLINE_ANSWERED = "helpline_answered", "Answered by a counsellor"
    HELPLINE_ABANDONED = "helpline_abandoned", "Left the helpline queue unanswered"
    SELFHELP_SIGNUP = "selfhelp_signup", "Signed up to self-help"
    REPEAT_TRIGGER = "repeat_trigger", "Triggered again"
    SEARCH_ABANDONED = "search_abandoned", "Abandoned the search"
    OPT_OUT = "opt_out", "Opted out"
    COMPLAINT = "complaint", "Complained"
    DELIVERY_FAILED = "delivery_failed", "Delivery failed"
    MODULE_ENROLLED = "module_enrolled", "Enrolled in a learning module"
    MODULE_COMPLETED = "module_completed", "Completed a learning module"


# Outcomes nobody wants more of that a plan may watch only as guardrails: never its primary or
# a secondary outcome (a rise is harm, not success). evaluation.services checks plans.
GUARDRAIL_ONLY_KINDS: frozenset[str] = frozenset({OutcomeKind.HELPLINE_ABANDONED})


# The audiences of help resources (the shared data's vocabulary) that serve each stage.
STAGE_RESOURCE_AUDIENCES: dict[str, tuple[str, ...]] = {
    AudienceStage.AT_RISK: ("at_risk_self",),
    AudienceStage.OFFENDER: ("offender", "at_risk_self"),
    AudienceStage.YOUNG_PERSON_HSB: ("young_person_concerned_about_self",),
    AudienceStage.CONCERNED_OTHER: ("concerned_family_or_friend", "survivor"),
    AudienceStage.PROFESSIONAL: ("professional",),
}
