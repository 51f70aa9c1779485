from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class OutreachConfig(AppConfig):
    default = True
    name = "outreach"
    verbose_name = "Outreach"

    def ready(self) -> None:
        # Imported here, not at the top: an AppConfig module is imported before models load.
        from evaluation.admin import report_section_register
        from evaluation.population import population_source_register
        from interventions.selectors import helpline_daily_totals
        from learning.campaign_section import campaign_learning_section

        # Wiring, so that evaluation never imports the higher layers it reports on: the
        # campaign report shows learning's section (knowledge gain, enrolment, completion) and
        # its population view reads the helplines' daily totals kept by interventions.
        report_section_register(campaign_learning_section)
        population_source_register(helpline_daily_totals)


class OutreachAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "outreach.admin_site.OutreachAdminSite"
