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
        from evaluation.reports import signposts_helpline_register
        from helpline.selectors import campaign_signposts_helpline
        from interventions.selectors import helpline_daily_totals
        from learning.campaign_section import campaign_learning_section

        # Wiring, so that evaluation never imports the higher layers it reports on: the
        # campaign report shows learning's section (knowledge gain, enrolment, completion) and
        # its population view reads the helplines' daily totals kept by interventions; it
        # shows answered / abandoned beside helpline contacts where the campaign signposts a
        # helpline hosted here.
        report_section_register(campaign_learning_section)
        population_source_register(helpline_daily_totals)
        signposts_helpline_register(campaign_signposts_helpline)
        choice_errors_name_the_choices()


MAX_NAMED_CHOICES = 40


def choice_errors_name_the_choices() -> None:
    """A refused enum value is answered with the allowed ones (issue 16): every DRF
    ChoiceField (and MultipleChoiceField) says `"x" is not a valid choice. Use one of: a, b.`
    A field with its own `invalid_choice` message keeps it."""
    # Imported when ready() runs: DRF's fields need the app registry, this module loads first.
    from rest_framework.fields import ChoiceField

    if getattr(ChoiceField.fail, "names_choices", False):
        return
    plain_fail = ChoiceField.fail
    ChoiceField.default_error_messages = {
        **ChoiceField.default_error_messages,
        "invalid_choice": '"{input}" is not a valid choice. Use one of: {choices}.'}

    def fail(self, key, **kwargs):  # type: ignore[no-untyped-def]
        if key == "invalid_choice" and "choices" not in kwargs:
            names = [str(choice) for choice in self.choice_strings_to_values]
            if len(names) > MAX_NAMED_CHOICES:
                names = [*names[:MAX_NAMED_CHOICES], "…"]
            kwargs["choices"] = ", ".join(names)
            if "{choices}" not in str(self.error_messages.get(key, "")) and \
                    self.error_messages.get(key) == _DRF_MESSAGE:
                self.error_messages = {**self.error_messages,
                                       key: ChoiceField.default_error_messages[key]}
        return plain_fail(self, key, **kwargs)

    fail.names_choices = True  # type: ignore[attr-defined]
    ChoiceField.fail = fail  # type: ignore[method-assign]


_DRF_MESSAGE = '"{input}" is not a valid choice.'


class OutreachAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "outreach.admin_site.OutreachAdminSite"
