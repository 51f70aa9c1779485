"""The admin site: two-factor (django-otp) when ADMIN_REQUIRE_OTP is on, as in production.

Its index is the programme manager's home (outreach/admin_dashboard.py): running campaigns,
what waits for a review or a confirmation, today's sends; Django's security tables (login
lockouts, OTP devices, users) sit in a section of their own, for superusers only.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from outreach.admin_dashboard import dashboard_for, split_app_list


class OutreachAdminSite(OTPAdminSite):
    site_header = _("Outreach")
    site_title = _("Outreach admin")
    index_title = _("Prevention programmes")
    index_template = "admin/outreach_index.html"

    def has_permission(self, request: HttpRequest) -> bool:
        if settings.ADMIN_REQUIRE_OTP:
            # Staff must also have passed a TOTP or static token in this session.
            return super().has_permission(request)
        return AdminSite.has_permission(self, request)

    def login(self, request: HttpRequest, extra_context=None):  # type: ignore[no-untyped-def]
        self.login_form = (OTPAdminAuthenticationForm if settings.ADMIN_REQUIRE_OTP
                           else AdminAuthenticationForm)
        self.login_template = (OTPAdminSite.login_template if settings.ADMIN_REQUIRE_OTP
                               else None)
        return super().login(request, extra_context)

    def index(self, request: HttpRequest, extra_context=None):  # type: ignore[no-untyped-def]
        work, security = split_app_list(self.get_app_list(request),
                                        superuser=request.user.is_superuser)
        context = {"app_list": work, "security_apps": security,
                   "dashboard": dashboard_for(request.user), **(extra_context or {})}
        return super().index(request, context)
