"""The admin site: two-factor (django-otp) when ADMIN_REQUIRE_OTP is on, as in production."""

from __future__ import annotations

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite


class OutreachAdminSite(OTPAdminSite):
    site_header = "Outreach"
    site_title = "Outreach admin"
    index_title = "Prevention programmes"

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
