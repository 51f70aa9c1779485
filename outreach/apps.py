from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class OutreachConfig(AppConfig):
    default = True
    name = "outreach"
    verbose_name = "Outreach"


class OutreachAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "outreach.admin_site.OutreachAdminSite"
