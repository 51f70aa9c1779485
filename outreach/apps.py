from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class OutreachConfig(AppConfig):
    default = True
    name = "outreach"
    verbose_name = "Outreach"

    def ready(self) -> None:
        # Wiring: the campaign report shows learning's section (knowledge gain, enrolment and
        # completion) without evaluation importing learning (learning is the higher layer).
        from evaluation.admin import report_section_register
        from learning.campaign_section import campaign_learning_section

        report_section_register(campaign_learning_section)


class OutreachAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "outreach.admin_site.OutreachAdminSite"
