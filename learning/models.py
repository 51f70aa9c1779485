"""Capacity building: learning modules for professionals and parents, their learners, knowledge
checks and mentoring requests.

A learner is pseudonymous: no account, only a random token whose SHA-256 is stored (the token
is the resume link). Contact details (a learner's optional email, a mentoring request's
contact) are envelope-encrypted like recipients' (a per-row data key wrapped by the field key):
deleting the row crypto-shreds them.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from organisations.models import Organisation

slug_validator = RegexValidator(r"^[a-z0-9][a-z0-9-]{0,79}\Z",
                                "Lower-case letters, digits and hyphens.")
language_validator = RegexValidator(r"^[a-z]{2,3}(-[A-Z]{2})?\Z",
                                    "Use a language code such as en or pt-BR.")


class Audience(models.TextChoices):
    TEACHER = "teacher", "Teacher"
    SOCIAL_WORKER = "social_worker", "Social worker"
    HEALTH = "health", "Health professional"
    POLICE = "police", "Police"
    YOUTH_WORKER = "youth_worker", "Youth worker"
    PARENT_CARER = "parent_carer", "Parent or carer"
    OTHER = "other", "Other"


class ModuleKind(models.TextChoices):
    STANDARD = "standard", "Standard"
    LAW_EXPLAINED = "law_explained", "The law explained (generated from the directory)"


class ReviewState(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    PUBLISHED = "published", "Published"


class Module(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="learning_modules")
    slug = models.CharField(max_length=80, validators=[slug_validator],
                            help_text="Part of the public address: /learn/<organisation>/<slug>/")
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    audience = models.CharField(max_length=16, choices=Audience.choices)
    kind = models.CharField(max_length=16, choices=ModuleKind.choices,
                            default=ModuleKind.STANDARD)
    jurisdiction = models.CharField(max_length=6, blank=True,
                                    help_text="For 'law explained': e.g. GB-ENG or DE.")
    default_language = models.CharField(max_length=8, default="en",
                                        validators=[language_validator])
    languages = models.JSONField(default=list, blank=True,
                                 help_text="Languages the module is offered in, in order.")
    countries = models.JSONField(default=list, blank=True,
                                 help_text="Where its audience is (ISO codes), for signposting.")
    state = models.CharField(max_length=16, choices=ReviewState.choices,
                             default=ReviewState.DRAFT, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+", editable=False)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+", editable=False)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+", editable=False)
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    # What the reviewer signed off (lessons, questions) and, for "law explained", the hash of
    # the directory records it was generated from: a changed legal notice no longer matches.
    content_hash = models.CharField(max_length=64, blank=True, editable=False)
    sources_hash = models.CharField(max_length=64, blank=True, editable=False)
    review_requested_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="Set when the sources changed after generation: the module needs re-review.")
    # The directory entry that makes the module signpostable ("hosted here").
    help_resource = models.OneToOneField("directory.HelpResource", null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="module",
                                         editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "slug"],
                                    name="learning_module_slug_unique"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_public(self) -> bool:
        return self.state == ReviewState.PUBLISHED


class Lesson(models.Model):
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="lessons")
    position = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["module", "position"],
                                    name="learning_lesson_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.module}: lesson {self.position}"


class LessonText(models.Model):
    """A lesson in one language (Markdown; rendered and sanitised on display)."""

    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="texts")
    language = models.CharField(max_length=8, validators=[language_validator])
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Markdown. Raw HTML is not rendered.")

    class Meta:
        ordering = ["lesson", "language"]
        constraints = [
            models.UniqueConstraint(fields=["lesson", "language"],
                                    name="learning_lesson_text_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.title} [{self.language}]"


class Question(models.Model):
    """A knowledge-check item, asked before the first lesson and again after the last."""

    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(default=1)
    prompt = models.CharField(max_length=500)
    choices = models.JSONField(help_text='Answer options, e.g. ["Yes", "No", "Not sure"].')
    correct_choice = models.PositiveSmallIntegerField(
        help_text="Index of the right option (0 first).")

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.prompt[:60]



class Learner(models.Model):
    """A pseudonymous enrolment. The token (the resume link) is stored only as its SHA-256."""

    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="learners")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="learners")
    token_hash = models.CharField(max_length=64, unique=True)
    language = models.CharField(max_length=8, blank=True)
    # Attribution (like a help click): the exposure the invitation link carried. Campaign and
    # arm are kept beside it so the funnel survives the exposure's retention purge.
    exposure = models.ForeignKey("evaluation.Exposure", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="learners")
    campaign = models.ForeignKey("campaigns.Campaign", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="learners")
    arm = models.ForeignKey("campaigns.Arm", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="learners")
    data_key = models.TextField(blank=True, help_text="Wrapped data key (envelope).")
    email_sealed = models.TextField(blank=True)
    email_index = models.CharField(max_length=64, blank=True, db_index=True)
    enrolled_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    simulated = models.BooleanField(default=False, help_text="Demo data.")

    class Meta:
        indexes = [models.Index(fields=["module", "enrolled_at"]),
                   models.Index(fields=["campaign", "arm"])]

    def __str__(self) -> str:
        return f"learner {self.pk}"


class LessonProgress(models.Model):
    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="progress")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="progress")
    completed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["learner", "lesson"],
                                    name="learning_progress_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.learner} finished {self.lesson}"


class Phase(models.TextChoices):
    PRE = "pre", "Before the module"
    POST = "post", "After the module"


class Answer(models.Model):
    """One answer; the first one counts (a unique key per learner, question and phase)."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers")
    phase = models.CharField(max_length=4, choices=Phase.choices)
    choice = models.PositiveSmallIntegerField()
    correct = models.BooleanField()
    answered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["learner", "question", "phase"],
                                    name="learning_answer_first_counts"),
        ]

    def __str__(self) -> str:
        return f"{self.learner} {self.phase} answer"


class MentoringState(models.TextChoices):
    OPEN = "open", "Open"
    CONTACTED = "contacted", "Contacted"
    CLOSED = "closed", "Closed"


def new_reference() -> str:
    return secrets.token_hex(4).upper()


class MentoringRequest(models.Model):
    """A professional asking the programme for follow-up support (contact encrypted)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="mentoring_requests")
    module = models.ForeignKey(Module, on_delete=models.CASCADE,
                               related_name="mentoring_requests")
    learner = models.ForeignKey(Learner, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="mentoring_requests")
    reference = models.CharField(max_length=8, default=new_reference, editable=False)
    audience = models.CharField(max_length=16, choices=Audience.choices)
    data_key = models.TextField(editable=False)
    contact_sealed = models.TextField(editable=False)
    message_sealed = models.TextField(blank=True, editable=False)
    state = models.CharField(max_length=16, choices=MentoringState.choices,
                             default=MentoringState.OPEN)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    handled_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"mentoring request {self.reference}"
