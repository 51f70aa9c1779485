"""Admin: modules (authored, reviewed and published through the services), lessons, the
mentoring queue, and the learning report (knowledge gain and funnel, charts and CSV).

Learners and answers have no admin page on purpose: what staff see of them are disclosed
counts in the report.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html

from core.disclosure import DisclosurePolicy
from core.errors import DomainError
from evaluation.services import disclosure_policy_for
from learning import law, learners, services
from learning.charts import learning_charts
from learning.contacts import contact_unseal
from learning.models import (
    LessonText,
    MentoringRequest,
    MentoringState,
    Module,
    ModuleKind,
    Question,
    ReviewState,
)
from learning.reports import (
    FUNNEL_STAGES,
    GAIN_HEADER,
    STAGE_LABELS,
    gain_cells,
    learning_report,
)
from organisations.admin_base import OrganisationScopedAdmin
from organisations.selectors import user_organisation, user_role
from organisations.services import Actor, audit_record

REVIEW_ACTIONS = ("approve", "reject")


def _run(request: HttpRequest, queryset: QuerySet, label: str, call: Any) -> None:
    done = 0
    for obj in queryset:
        try:
            call(obj)
            done += 1
        except DomainError as error:
            messages.error(request, f"{obj}: {error.message}")
    if done:
        messages.success(request, f"{label}: {done}.")


class QuestionForm(forms.ModelForm):
    class Meta:
        model = Question
        fields = ["position", "prompt", "choices", "correct_choice"]

    def clean(self) -> dict:
        data = super().clean()
        try:
            services._check_choices(data.get("choices"), data.get("correct_choice"))
        except DomainError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
        return data


class QuestionInline(admin.TabularInline):
    model = Question
    form = QuestionForm
    extra = 0


class SourcesChangedFilter(admin.SimpleListFilter):
    title = "needs re-review"
    parameter_name = "rereview"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Sources changed: re-review")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(review_requested_at__isnull=False)
        return queryset


@admin.register(Module)
class ModuleAdmin(OrganisationScopedAdmin):
    list_display = ["title", "audience", "kind", "jurisdiction", "state", "rereview",
                    "public_link"]
    list_filter = ["state", "kind", "audience", SourcesChangedFilter]
    search_fields = ["title", "slug"]
    readonly_fields = ["state", "content_hash", "sources_hash", "review_requested_at",
                       "approved_by", "approved_at", "published_at", "public_link"]
    inlines = [QuestionInline]
    actions = ["submit", "approve", "reject", "publish", "revise", "generate_law",
               "check_sources"]
    audit_admin_changes = False  # saves go through the audited services
    write_roles = frozenset({"manager", "reviewer"})

    @admin.display(description="re-review", boolean=True)
    def rereview(self, obj: Module) -> bool | None:
        return obj.review_requested_at is not None if obj.kind == ModuleKind.LAW_EXPLAINED \
            else None

    @admin.display(description="public page")
    def public_link(self, obj: Module) -> str:
        if obj.pk is None or obj.state != ReviewState.PUBLISHED:
            return "-"
        return format_html('<a href="{}">{}</a>', services.module_public_path(obj),
                           services.module_public_path(obj))

    def save_model(self, request: HttpRequest, obj: Module, form: Any, change: bool) -> None:
        actor = Actor(user=request.user)
        fields = {f: form.cleaned_data[f] for f in services.MODULE_FIELDS
                  if f in form.cleaned_data}
        organisation = obj.organisation if request.user.is_superuser and obj.organisation_id \
            else user_organisation(request.user)
        try:
            if change:
                services.module_update(module=Module.objects.get(pk=obj.pk), actor=actor,
                                       **fields)
            else:
                obj.pk = services.module_create(organisation=organisation, actor=actor,
                                                **fields).pk
        except DomainError as error:
            messages.error(request, error.message)
        obj.refresh_from_db()

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        actor = Actor(user=request.user)
        for row in formset.forms:
            if not row.has_changed() or not row.cleaned_data or row.cleaned_data.get("DELETE"):
                continue
            data = row.cleaned_data
            try:
                services.question_put(module=form.instance, actor=actor,
                                      position=data["position"], prompt=data["prompt"],
                                      choices=data["choices"],
                                      correct_choice=data["correct_choice"])
            except DomainError as error:
                messages.error(request, error.message)
        for obj in formset.deleted_objects:
            obj.delete()

    def _may(self, request: HttpRequest, action: str) -> bool:
        role = user_role(request.user)
        if request.user.is_superuser:
            return True
        return role in ("reviewer", "manager") if action in REVIEW_ACTIONS else role == "manager"

    def _action(self, request: HttpRequest, queryset: QuerySet, name: str, call: Any) -> None:
        if not self._may(request, name):
            messages.error(request, "Your role cannot do this.")
            return
        _run(request, queryset, name, call)

    @admin.action(description="Submit for review")
    def submit(self, request: HttpRequest, queryset: QuerySet) -> None:
        actor = Actor(user=request.user)
        self._action(request, queryset, "submitted",
                     lambda m: services.module_submit(module=m, actor=actor))

    @admin.action(description="Approve (four eyes: not the author)")
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        actor = Actor(user=request.user)
        self._action(request, queryset, "approve",
                     lambda m: services.module_approve(module=m, actor=actor))

    @admin.action(description="Reject (back to draft)")
    def reject(self, request: HttpRequest, queryset: QuerySet) -> None:
        actor = Actor(user=request.user)
        self._action(request, queryset, "reject",
                     lambda m: services.module_reject(module=m, actor=actor))

    @admin.action(description="Publish (and signpost it in the directory)")
    def publish(self, request: HttpRequest, queryset: QuerySet) -> None:
        actor = Actor(user=request.user)
        self._action(request, queryset, "published",
                     lambda m: services.module_publish(module=m, actor=actor))

    @admin.action(description="Revise (back to draft, stop signposting)")
    def revise(self, request: HttpRequest, queryset: QuerySet) -> None:
        actor = Actor(user=request.user)
        self._action(request, queryset, "revised",
                     lambda m: services.module_revise(module=m, actor=actor))

    @admin.action(description="Law explained: (re)generate from the directory")
    def generate_law(self, request: HttpRequest, queryset: QuerySet) -> None:
        actor = Actor(user=request.user)
        self._action(request, queryset.filter(kind=ModuleKind.LAW_EXPLAINED), "generated",
                     lambda m: law.law_module_generate(
                         organisation=m.organisation, jurisdiction=m.jurisdiction,
                         actor=actor, audience=m.audience, language=m.default_language,
                         module=m))

    @admin.action(description="Law explained: check the sources for changes")
    def check_sources(self, request: HttpRequest, queryset: QuerySet) -> None:
        organisation = None if request.user.is_superuser else user_organisation(request.user)
        marked = law.law_modules_check(organisation=organisation)
        messages.info(request, f"Marked for re-review: {len(marked)}.")

    # --- the learning report ----------------------------------------------------------------

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("report/", view(self.report_view), name="learning_report"),
            path("report.csv", view(self.report_csv_view), name="learning_report_csv"),
            *super().get_urls(),
        ]

    def _report(self, request: HttpRequest) -> Any:
        organisation = user_organisation(request.user)
        modules = list(self.get_queryset(request).exclude(state=ReviewState.DRAFT)
                       .order_by("title"))
        if organisation is None and modules:
            organisation = modules[0].organisation
        policy = disclosure_policy_for(organisation) if organisation else DisclosurePolicy()
        return learning_report(modules=modules, policy=policy)

    def report_view(self, request: HttpRequest) -> TemplateResponse:
        report = self._report(request)
        context = {
            **self.admin_site.each_context(request), "title": "Learning report",
            "report": report, "gain_header": GAIN_HEADER, "stage_labels": STAGE_LABELS,
            "gain_rows": [gain_cells(r) for r in [*report.by_module, *report.by_audience,
                                                  *([report.all_modules]
                                                    if report.all_modules else [])]],
            "charts": learning_charts(report), "opts": self.model._meta,
            "needing_review": self.get_queryset(request).filter(
                review_requested_at__isnull=False),
        }
        return TemplateResponse(request, "admin/learning/report.html", context)

    def report_csv_view(self, request: HttpRequest) -> HttpResponse:
        report = self._report(request)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["knowledge gain"])
        writer.writerow(GAIN_HEADER)
        for row in [*report.by_module, *report.by_audience,
                    *([report.all_modules] if report.all_modules else [])]:
            writer.writerow(gain_cells(row))
        writer.writerow([])
        writer.writerow(["completion funnel"])
        writer.writerow(["campaign", "arm", *(STAGE_LABELS[s] for s in FUNNEL_STAGES)])
        for funnel in report.funnel:
            writer.writerow([funnel.campaign, funnel.arm,
                             *(funnel.stages[s].display for s in FUNNEL_STAGES)])
        for note in report.notes:
            writer.writerow(["note", note])
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="learning-report.csv"'
        return response


class LessonTextForm(forms.ModelForm):
    module = forms.ModelChoiceField(queryset=Module.objects.none())
    position = forms.IntegerField(min_value=1, max_value=200)

    class Meta:
        model = LessonText
        fields = ["language", "title", "body"]


@admin.register(LessonText)
class LessonTextAdmin(OrganisationScopedAdmin):
    """One lesson in one language; saving goes through services.lesson_put (review rules)."""

    organisation_field = "lesson__module__organisation"
    form = LessonTextForm
    list_display = ["title", "module_title", "position", "language"]
    list_filter = ["language"]
    audit_admin_changes = False
    write_roles = frozenset({"manager"})

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        modules = Module.objects.all() if request.user.is_superuser else \
            Module.objects.filter(organisation=user_organisation(request.user))
        # New field objects: the declared ones are shared by every form class (and thread).
        form.base_fields["module"] = forms.ModelChoiceField(
            queryset=modules, initial=obj.lesson.module_id if obj else None)
        form.base_fields["position"] = forms.IntegerField(
            min_value=1, max_value=200, initial=obj.lesson.position if obj else 1)
        return form

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["module", "position", "language", "title", "body"]

    @admin.display(description="module")
    def module_title(self, obj: LessonText) -> str:
        return obj.lesson.module.title

    @admin.display(description="position")
    def position(self, obj: LessonText) -> int:
        return obj.lesson.position

    def save_model(self, request: HttpRequest, obj: LessonText, form: Any, change: bool) -> None:
        data = form.cleaned_data
        try:
            saved = services.lesson_put(module=data["module"], actor=Actor(user=request.user),
                                        position=data["position"], language=data["language"],
                                        title=data["title"], body=data["body"])
            obj.pk = saved.pk
        except DomainError as error:
            messages.error(request, error.message)


@admin.register(MentoringRequest)
class MentoringRequestAdmin(OrganisationScopedAdmin):
    """The queue: oldest open request first. Opening one shows its contact (audited)."""

    list_display = ["reference", "module", "audience", "state", "created_at", "purge_on"]
    list_filter = ["state", "audience"]
    ordering = ["state", "created_at"]
    fields = ["reference", "module", "audience", "state", "created_at", "handled_at",
              "contact", "message", "purge_on"]
    readonly_fields = ["reference", "module", "audience", "state", "created_at", "handled_at",
                       "contact", "message", "purge_on"]
    actions = ["mark_contacted", "mark_closed"]
    audit_admin_changes = False
    write_roles = frozenset({"manager", "reviewer"})

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    @admin.display(description="deleted on")
    def purge_on(self, obj: MentoringRequest) -> str:
        due = obj.created_at + timezone.timedelta(days=learners.mentoring_retention_days())
        return f"{due:%Y-%m-%d}"

    def _reveal(self, obj: MentoringRequest, purpose: str, sealed: str) -> str:
        return contact_unseal(obj.data_key, sealed, organisation_id=obj.organisation_id,
                              purpose=purpose) or "-"

    @admin.display(description="contact")
    def contact(self, obj: MentoringRequest) -> str:
        return self._reveal(obj, "contact", obj.contact_sealed)

    @admin.display(description="message")
    def message(self, obj: MentoringRequest) -> str:
        return self._reveal(obj, "message", obj.message_sealed)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> HttpResponse:
        obj = self.get_queryset(request).filter(pk=object_id).first()
        if obj is not None:  # reading contact details leaves a trace
            audit_record(organisation=obj.organisation, actor=Actor(user=request.user),
                         action="learning.mentoring.view", target=obj)
        return super().change_view(request, object_id, form_url, extra_context)

    def _set(self, request: HttpRequest, queryset: QuerySet, state: str) -> None:
        actor = Actor(user=request.user)
        _run(request, queryset, f"marked {state}",
             lambda r: learners.mentoring_request_set_state(request=r, state=state, actor=actor))

    @admin.action(description="Mark contacted")
    def mark_contacted(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set(request, queryset, MentoringState.CONTACTED)

    @admin.action(description="Mark closed")
    def mark_closed(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set(request, queryset, MentoringState.CLOSED)
