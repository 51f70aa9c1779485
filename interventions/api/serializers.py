"""Input and output serializers for the partner API (kept apart, as the style guide asks)."""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.bounds import day_problem
from interventions.aggregates import MAX_AGGREGATE_ROWS
from interventions.api.inputs import attributes_problem
from interventions.outcomes import MAX_KEY_CHARS, REPORTABLE_KINDS


@extend_schema_field({"oneOf": [{"type": "string", "maxLength": 64}, {"type": "number"},
                               {"type": "boolean"}]})
class AttributeValueField(serializers.JSONField):
    """A string (at most 64 characters), number or boolean."""


class StrictCharField(serializers.CharField):
    """A string only: DRF's CharField would also take 5 as "5", which the schema forbids."""

    def to_internal_value(self, data):  # type: ignore[no-untyped-def]
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An integer only: DRF's IntegerField would also take "5" and 5.0."""

    def to_internal_value(self, data):  # type: ignore[no-untyped-def]
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class InterventionIn(serializers.Serializer):
    trigger = serializers.CharField(
        max_length=64, help_text="A trigger category from the vocabulary the programme defined "
        "for you, e.g. search_blocked_term or upload_blocked. Never the search text.")
    country = serializers.CharField(max_length=8, help_text="ISO 3166-1 alpha-2, e.g. GB.")
    language = serializers.CharField(max_length=16,
                                     help_text="ISO 639-1, optionally with a region: en, en-GB.")
    session_id = serializers.CharField(
        max_length=256, trim_whitespace=False,
        help_text="Your opaque session or user id. Pseudonymised on arrival; never stored.")
    platform = serializers.CharField(max_length=64, required=False, allow_blank=True,
                                     default="", help_text="e.g. web, ios, android.")
    attributes = serializers.DictField(
        child=AttributeValueField(), required=False, default=dict,
        help_text="Optional context such as age_band or surface: lower-case names, string, "
        "number or boolean values.")

    def validate_attributes(self, value: dict) -> dict:
        problem = attributes_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value


class MessageOut(serializers.Serializer):
    title = serializers.CharField()
    text = serializers.CharField(help_text="The message as plain text.")
    html = serializers.CharField(help_text="The message as HTML, cleaned to a small allow-list "
                                 "of tags (p, br, strong, em, ul, ol, li, h2-h4, a).")
    language = serializers.CharField(help_text="The language chosen from the fallback chain.")


class HelpResourceOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    organisation = serializers.CharField()
    kind = serializers.CharField()
    description = serializers.CharField()
    url = serializers.CharField(help_text="Signed link through Outreach (/go/…); empty when the "
                                "service has no web address.")
    phone = serializers.CharField(allow_null=True,
                                  help_text="Only while the line is open; otherwise null.")
    open_now = serializers.BooleanField(allow_null=True, help_text="null: hours unknown.")
    language_fallback = serializers.BooleanField(
        help_text="True when offered in English rather than the requested language.")


class StatuteOut(serializers.Serializer):
    name = serializers.CharField()
    section = serializers.CharField()
    summary = serializers.CharField()
    max_penalty = serializers.CharField()


class LegalNoticeOut(serializers.Serializer):
    jurisdiction = serializers.CharField()
    statutes = StatuteOut(many=True)


class InterventionOut(serializers.Serializer):
    show = serializers.BooleanField(help_text="Show the message? False: show nothing.")
    reason = serializers.ChoiceField(
        choices=["shown", "holdout", "capped", "no_match", "no_message"],
        help_text="shown; holdout (assigned to the no-message group, recorded); capped (the "
        "person saw this campaign often enough recently, nothing recorded); no_match (no "
        "running campaign targets this context); no_message (no message in any language of "
        "the fallback chain).")
    intervention_id = serializers.UUIDField(
        allow_null=True, help_text="Quote it when reporting outcomes (set for shown and "
        "holdout answers).")
    referral_code = serializers.CharField(allow_blank=True)
    message = MessageOut(allow_null=True)
    help_resources = HelpResourceOut(many=True)
    legal_notice = LegalNoticeOut(allow_null=True)


class OutcomeIn(serializers.Serializer):
    """One event (also one NDJSON line). Give either `intervention_id` or `referral_code`,
    not both; no other fields; leave a field out rather than sending null."""

    kind = serializers.ChoiceField(choices=[str(k) for k in REPORTABLE_KINDS])
    idempotency_key = serializers.CharField(
        max_length=MAX_KEY_CHARS, help_text="Unique per event on your side: a replay with the "
        "same key counts once (the first report wins). Stored only as a keyed hash; still, "
        "do not put a person's identifier in it.")
    intervention_id = serializers.UUIDField(required=False,
                                            help_text="From the intervention answer.")
    referral_code = serializers.CharField(required=False, max_length=12,
                                          help_text="A campaign's code, e.g. quoted by a caller.")
    occurred_at = serializers.DateTimeField(
        required=False, help_text="Default: when we receive it. At most 5 minutes ahead of our "
        "clock, not before 2000-01-01, and not more than one day before the intervention "
        "(or the referral code's campaign) existed.")


class OutcomeOut(serializers.Serializer):
    id = serializers.IntegerField()
    duplicate = serializers.BooleanField(help_text="True: this key was already reported.")


class LineErrorOut(serializers.Serializer):
    line = serializers.IntegerField(help_text="1-based line number in the upload.")
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class BatchOut(serializers.Serializer):
    received = serializers.IntegerField(help_text="Non-blank lines.")
    accepted = serializers.IntegerField(help_text="New outcomes stored.")
    duplicates = serializers.IntegerField(help_text="Keys already reported (not counted again).")
    rejected = serializers.IntegerField(help_text="Lines refused; see errors.")
    errors = LineErrorOut(many=True)
    errors_truncated = serializers.BooleanField()


class AggregateRowIn(serializers.Serializer):
    day = serializers.DateField(help_text="Not in the future, not before 2000-01-01, and for a "
                                "row quoting a referral code not before the campaign existed.")

    def validate_day(self, value: date) -> date:
        problem = day_problem(value, at=timezone.now())
        if problem:
            raise serializers.ValidationError(problem)
        return value
    kind = serializers.ChoiceField(choices=[str(k) for k in REPORTABLE_KINDS],
                                   default="helpline_contact")
    referral_source = StrictCharField(
        max_length=64, help_text="A campaign referral code, or your own label such as "
        "'search_warning' or 'unknown'.")
    count = StrictIntegerField(min_value=0, max_value=10_000_000)


class AggregatesIn(serializers.Serializer):
    rows = AggregateRowIn(many=True, max_length=MAX_AGGREGATE_ROWS, allow_empty=False)


class AggregatesOut(serializers.Serializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField(help_text="Rows that replaced an earlier count.")
    linked_to_campaigns = serializers.IntegerField()
