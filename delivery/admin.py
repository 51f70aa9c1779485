"""Admin: a campaign's send progress with Pause/Resume, deliveries (read-only), channels."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from campaigns.lifecycle import campaign_pause, campaign_resume
from campaigns.models import Campaign
from core.errors import Conflict, InvalidInput
from delivery.models import ChannelConfig, Delivery, DeliveryAttempt
from delivery.selectors import campaign_progress
from organisations.admin_base import OrganisationScopedAdmin
from organisations.selectors import user_organisation, user_role
from organisations.services import Actor


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("number", "outcome", "reason", "at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(OrganisationScopedAdmin):
    list_display = ("id", "campaign", "channel", "state", "reason", "attempts",
                    "next_attempt_at", "sent_at")
    list_filter = ("state", "channel", "campaign")
    list_select_related = ("campaign",)
    search_fields = ("=id", "reason")
    inlines = [DeliveryAttemptInline]
    show_full_result_count = False  # counting a million rows on every page view is slow

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Delivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("campaign/<int:campaign_id>/progress/", view(self.progress_view),
                 name="delivery_campaign_progress"),
            path("campaign/<int:campaign_id>/<str:action>/", view(self.control_view),
                 name="delivery_campaign_control"),
            *super().get_urls(),
        ]

    def own_campaign(self, request: HttpRequest, campaign_id: int) -> Campaign:
        campaigns = Campaign.objects.select_related("organisation")
        if not request.user.is_superuser:
            campaigns = campaigns.filter(organisation=user_organisation(request.user))
        campaign = campaigns.filter(pk=campaign_id).first()
        if campaign is None or not self.has_view_permission(request):
            raise Http404
        return campaign

    def progress_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        campaign = self.own_campaign(request, campaign_id)
        progress = campaign_progress(campaign=campaign).disclosed()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Sending progress: {campaign.name}",
            "campaign": campaign,
            "progress": progress,
            "states": list(progress["counts"].items()),
            "can_control": self.may_control(request),
            "refresh_seconds": 3,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/delivery/campaign_progress.html", context)

    def control_view(self, request: HttpRequest, campaign_id: int, action: str) -> HttpResponse:
        if request.method != "POST" or action not in ("pause", "resume"):
            raise Http404
        campaign = self.own_campaign(request, campaign_id)
        if not self.may_control(request):
            raise PermissionDenied
        actor = Actor(user=request.user)
        try:
            if action == "pause":
                campaign_pause(campaign=campaign, actor=actor)
            else:
                campaign_resume(campaign=campaign, actor=actor)
        except (Conflict, InvalidInput) as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.message_user(request, f"Campaign {action}d.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:delivery_campaign_progress",
                                            args=[campaign.pk]))

    def may_control(self, request: HttpRequest) -> bool:
        """Pause and resume are a manager's decision."""
        return request.user.is_superuser or user_role(request.user) == "manager"


@admin.register(ChannelConfig)
class ChannelConfigAdmin(OrganisationScopedAdmin):
    list_display = ("organisation", "channel", "rate_per_second", "burst", "is_active")
    list_filter = ("channel", "is_active")
    exclude = ("credentials",)  # secrets are set through the shell or the API, never shown

    def get_list_display(self, request: HttpRequest) -> tuple:
        return (*self.list_display, "progress_links")

    @admin.display(description="Campaign progress")
    def progress_links(self, obj: ChannelConfig) -> str:
        campaigns = Campaign.objects.filter(organisation=obj.organisation_id,
                                            status__in=["running", "paused"])[:5]
        links = [format_html('<a href="{}">{}</a>',
                             reverse("admin:delivery_campaign_progress", args=[c.pk]), c.name)
                 for c in campaigns]
        return format_html(", ".join(["{}"] * len(links)), *links) if links else "-"
