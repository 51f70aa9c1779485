"""The message library: editing through the authoring services, and the live preview."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path

from campaigns import authoring, content, lifecycle
from campaigns.admin.access import RoleAccess
from campaigns.models import Campaign, Message
from campaigns.rendering import (
    RenderContext,
    RenderError,
    build_preview_context,
    message_validate,
    render_message,
    sample_context,
)
from core.errors import DomainError
from core.vocabulary import AudienceStage
from organisations.admin_base import OrganisationScopedAdmin
from organisations.selectors import user_organisation
from organisations.services import Actor


class MessageForm(forms.ModelForm):
    class Meta:
        model = Message
        fields = ["organisation", "name", "channel", "language", "framing", "polarity",
                  "subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 12, "cols": 90})}

    def clean(self) -> dict:
        data = super().clean()
        candidate = Message(body=data.get("body") or "", subject=data.get("subject") or "")
        for problem in message_validate(candidate):
            part, _, detail = problem.partition(": ")
            self.add_error(part if part in self.fields else None, detail)
        if self.instance.pk:
            live = [c for c in Campaign.objects.filter(arms__messages=self.instance).distinct()
                    if c.status not in lifecycle.EDITABLE]
            if live:
                raise ValidationError(
                    "This message is used by live campaigns ("
                    + ", ".join(f"{c.name}: {c.status}" for c in live)
                    + "). Make a new message instead.")
        return data


@admin.register(Message)
class MessageAdmin(RoleAccess, OrganisationScopedAdmin):
    form = MessageForm
    change_form_template = "admin/campaigns/message/change_form.html"
    list_display = ["name", "channel", "language", "framing", "polarity", "updated_at"]
    list_filter = ["channel", "language", "framing", "polarity"]
    search_fields = ["name", "subject"]

    def save_model(self, request: HttpRequest, obj: Message, form: Any, change: bool) -> None:
        actor = Actor(user=request.user)
        if not request.user.is_superuser:
            obj.organisation = user_organisation(request.user)
        fields = {f: getattr(obj, f) for f in content.MESSAGE_FIELDS}
        if change:
            original = Message.objects.get(pk=obj.pk)
            changed = {f: v for f, v in fields.items() if f in form.changed_data}
            authoring.message_update(message=original, actor=actor, **changed)
        else:
            created = authoring.message_create(organisation=obj.organisation, actor=actor,
                                               **fields)
            obj.pk, obj._state.adding = created.pk, False

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> Any:
        message = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if message is not None:
            extra.update(preview_context(request, message))
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self) -> list:
        custom = [path("preview-sample/", self.admin_site.admin_view(self.sample_view),
                       name="campaigns_message_sample")]
        return custom + super().get_urls()

    def sample_view(self, request: HttpRequest) -> TemplateResponse:
        """The fixed context a template may use, with a sample of each value."""
        context = {**self.admin_site.each_context(request), "title": "Message template context",
                   "sample": sample_context().as_dict(), "opts": self.model._meta}
        return TemplateResponse(request, "admin/campaigns/message/sample_context.html", context)


def preview_context(request: HttpRequest, message: Message) -> dict:
    """Render `message` for the country/stage chosen on the page (directory data), or a sample."""
    country = (request.GET.get("preview_country") or "GB").upper()[:2]
    stage = request.GET.get("preview_stage") or None
    if stage not in AudienceStage.values:
        stage = None
    source = request.GET.get("preview_source") or "directory"
    if source == "sample":
        context: RenderContext = sample_context(organisation_name=message.organisation.name,
                                                country=country, language=message.language)
    else:
        try:
            context = build_preview_context(organisation=message.organisation, country=country,
                                            language=message.language, stage=stage)
        except DomainError as error:
            return {"preview_error": error.message}
    result: dict[str, Any] = {
        "preview_country": country, "preview_stage": stage or "", "preview_source": source,
        "preview_stages": AudienceStage.choices,
        "preview_resources": context.help_resources,
    }
    try:
        result["preview"] = render_message(message=message, context=context)
    except RenderError as error:
        result["preview_error"] = str(error)
    return result
