"""Input (query) and output serializers for the directory API, kept apart."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.fields import empty

from core.vocabulary import AudienceStage
from directory.models import ResourceAudience, ResourceKind, SourceStatus, VerificationStatus

AUDIENCE_CHOICES = [*AudienceStage.values, *ResourceAudience.values]


class UpperCodeField(serializers.RegexField):
    """A code accepted in any case and normalised to upper case."""

    def to_internal_value(self, data: Any) -> str:
        return super().to_internal_value(data).upper()


class LowerCodeField(serializers.RegexField):
    def to_internal_value(self, data: Any) -> str:
        return super().to_internal_value(data).lower()


class QueryBooleanField(serializers.BooleanField):
    """A boolean query parameter: absent means absent (DRF treats query strings like HTML
    forms, where a missing checkbox means False)."""

    default_empty_html = empty


class HelpResourceQuery(serializers.Serializer):
    country = UpperCodeField(
        r"^[A-Za-z]{2}$", required=False, max_length=2,
        error_messages={"invalid": "Use a two-letter ISO 3166-1 country code such as GB."},
        help_text="ISO 3166-1 alpha-2 (any case). Worldwide services match every country.")
    language = LowerCodeField(
        r"^[A-Za-z]{2}$", required=False, max_length=2,
        error_messages={"invalid": "Use a two-letter ISO 639-1 language code such as en."},
        help_text="ISO 639-1. Services in this language come first, then English ones.")
    audience = serializers.ChoiceField(
        choices=AUDIENCE_CHOICES, required=False,
        help_text="An audience stage (at_risk, offender, …) or a resource audience "
                  "(at_risk_self, …).")
    open_now = QueryBooleanField(
        required=False,
        help_text="true: only services open now; false: only those not known to be open now.")


class JurisdictionQuery(serializers.Serializer):
    jurisdiction = UpperCodeField(
        r"^[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?$", required=False, max_length=6,
        error_messages={"invalid": "Use an ISO 3166-1 or 3166-2 code such as GB or GB-ENG."},
        help_text="ISO 3166-1 or 3166-2 code, e.g. GB-ENG; falls back as documented.")


class OpeningPeriodOutput(serializers.Serializer):
    weekday = serializers.IntegerField(min_value=1, max_value=7, help_text="1 = Monday")
    opens = serializers.CharField(help_text="HH:MM local time")
    closes = serializers.CharField(help_text="HH:MM local time; <= opens means the next day")


class HelpResourceOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    provider_organisation = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.ChoiceField(choices=ResourceKind.choices)
    audiences = serializers.ListField(child=serializers.CharField())
    countries = serializers.ListField(child=serializers.CharField())
    languages = serializers.ListField(child=serializers.CharField())
    phone = serializers.CharField(allow_null=True,
                                  help_text="E.164; null unless the record is displayable.")
    url = serializers.CharField(allow_null=True,
                                help_text="null unless the record is displayable.")
    opening_hours_text = serializers.CharField(help_text="As the source stated them.")
    opening_hours = OpeningPeriodOutput(many=True)
    time_zone = serializers.CharField()
    structured_hours_note = serializers.CharField()
    open_now = serializers.BooleanField(allow_null=True,
                                        help_text="null: hours unknown (not shown as open).")
    anonymous = serializers.BooleanField(allow_null=True)
    cost = serializers.CharField()
    caveats = serializers.ListField(child=serializers.CharField())
    inferred_fields = serializers.ListField(child=serializers.CharField())
    source_status = serializers.ChoiceField(choices=SourceStatus.choices)
    source_checked_on = serializers.DateField(allow_null=True)
    displayable = serializers.BooleanField()
    verification_status = serializers.ChoiceField(choices=VerificationStatus.choices)
    confirmed_at = serializers.DateTimeField(allow_null=True)
    language_fallback = serializers.BooleanField(
        help_text="true: listed as an English-language fallback for the requested language.")

    def to_representation(self, instance: Any) -> dict:
        """`instance`: a directory.selectors.Signpost (the row and what was worked out)."""
        resource = instance.resource
        contact_shown = resource.displayable
        return super().to_representation({
            **{name: getattr(resource, name) for name in (
                "slug", "name", "provider_organisation", "description", "kind", "audiences",
                "countries", "languages", "opening_hours_text", "time_zone",
                "structured_hours_note", "anonymous", "cost", "caveats", "inferred_fields",
                "source_status", "source_checked_on", "displayable", "confirmed_at")},
            "phone": resource.phone if contact_shown else None,
            "url": resource.url if contact_shown else None,
            "opening_hours": [h.as_dict() for h in resource.opening_hours.all()],
            "open_now": instance.open_now,
            "verification_status": instance.verification,
            "language_fallback": instance.language_fallback,
        })


class StatuteOutput(serializers.Serializer):
    name = serializers.CharField()
    section = serializers.CharField()
    offence_summary = serializers.CharField()
    max_penalty = serializers.CharField()
    source = serializers.CharField()
    supporting_sources = serializers.ListField(child=serializers.CharField())


class LegalNoticeOutput(serializers.Serializer):
    jurisdiction = serializers.CharField()
    also_applies_to = serializers.ListField(child=serializers.CharField())
    level = serializers.CharField()
    confidence = serializers.CharField()
    confidentiality_note = serializers.CharField()
    source_checked_on = serializers.DateField(allow_null=True)
    statutes = StatuteOutput(many=True)
