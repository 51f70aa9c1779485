from django.apps import AppConfig


class HelplineConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "helpline"
    verbose_name = "Helpline"
