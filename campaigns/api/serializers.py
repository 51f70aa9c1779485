"""Input and output serializers for the campaigns API (kept apart, HackSoft style)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from rest_framework import serializers

from campaigns.models import (
    Arm,
    ArmKind,
    AssignmentDesign,
    Campaign,
    Flight,
    Framing,
    Message,
    Polarity,
    Recurrence,
    Schedule,
    ScheduleKind,
)
from core.bounds import planned_time_problem
from core.vocabulary import AudienceStage, Channel

CODE = r"^[A-Za-z]{2}\Z"
LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?\Z"


# --- campaigns --------------------------------------------------------------------------------

class CampaignInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    objective = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    priority = serializers.IntegerField(required=False, min_value=-1000, max_value=1000)
    channels = serializers.ListField(child=serializers.ChoiceField(Channel.choices),
                                     required=False, max_length=4)
    countries = serializers.ListField(child=serializers.RegexField(CODE, max_length=2),
                                      required=False, max_length=250)
    languages = serializers.ListField(child=serializers.RegexField(LANGUAGE, max_length=12),
                                      required=False, max_length=50)
    segments = serializers.ListField(child=serializers.IntegerField(min_value=1),
                                     required=False, max_length=100,
                                     help_text="Ids of your segments.")
    partners = serializers.ListField(child=serializers.SlugField(max_length=80),
                                     required=False, max_length=100,
                                     help_text="Slugs of partner organisations to enrol.")
    frequency_cap_count = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    frequency_cap_days = serializers.IntegerField(required=False, min_value=1, max_value=3650)
    design = serializers.ChoiceField(AssignmentDesign.choices, required=False)
    assignment_namespace = serializers.CharField(required=False, allow_blank=True,
                                                 max_length=64)
    namespace_offset = serializers.DecimalField(max_digits=7, decimal_places=6, required=False,
                                                min_value=Decimal(0), max_value=Decimal(1))
    namespace_share = serializers.DecimalField(max_digits=7, decimal_places=6, required=False,
                                               min_value=Decimal(0), max_value=Decimal(1))


class FlightOutput(serializers.ModelSerializer):
    class Meta:
        model = Flight
        fields = ["id", "starts_at", "ends_at"]


class CampaignOutput(serializers.ModelSerializer):
    segments = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    partners = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")
    organisation = serializers.SlugRelatedField(read_only=True, slug_field="slug")
    flights = FlightOutput(many=True, read_only=True)
    channels = serializers.ListField(child=serializers.CharField())
    countries = serializers.ListField(child=serializers.CharField())
    languages = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Campaign
        fields = ["id", "organisation", "name", "objective", "status", "priority", "channels",
                  "countries", "languages", "segments", "partners", "frequency_cap_count",
                  "frequency_cap_days", "design", "assignment_namespace", "namespace_offset",
                  "namespace_share", "referral_code", "flights", "content_hash", "approved_at",
                  "status_changed_at", "created_at", "updated_at"]


class TransitionInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class LaunchProblemsOutput(serializers.Serializer):
    status = serializers.CharField()
    problems = serializers.ListField(child=serializers.CharField())


# --- flights, arms, schedules -------------------------------------------------------------

def _planned(value: datetime | None) -> datetime | None:
    problem = planned_time_problem(value) if value is not None else None
    if problem:
        raise serializers.ValidationError(problem)
    return value


class FlightInput(serializers.Serializer):
    starts_at = serializers.DateTimeField(help_text="Between 2000-01-01 and 2100-01-01.")
    ends_at = serializers.DateTimeField(required=False, allow_null=True,
                                        help_text="Between 2000-01-01 and 2100-01-01.")

    def validate_starts_at(self, value: datetime) -> datetime | None:
        return _planned(value)

    def validate_ends_at(self, value: datetime | None) -> datetime | None:
        return _planned(value)


class ArmInput(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    kind = serializers.ChoiceField(ArmKind.choices, required=False, default=ArmKind.VARIANT)
    weight = serializers.DecimalField(max_digits=7, decimal_places=4, min_value=Decimal(0),
                                      max_value=Decimal(999), required=False,
                                      default=Decimal(1))
    messages = serializers.ListField(child=serializers.IntegerField(min_value=1),
                                     required=False, default=list, max_length=100)


class ArmOutput(serializers.ModelSerializer):
    messages = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    share = serializers.SerializerMethodField(help_text="This arm's share of the allocation.")

    class Meta:
        model = Arm
        fields = ["id", "name", "kind", "weight", "share", "messages"]

    def get_share(self, arm: Arm) -> float:
        total = self.context.get("total_weight") or Decimal(0)
        return round(float(arm.weight / total), 6) if total > 0 else 0.0


class ScheduleInput(serializers.Serializer):
    kind = serializers.ChoiceField(ScheduleKind.choices)
    channel = serializers.ChoiceField([Channel.EMAIL, Channel.SMS, Channel.WEBHOOK])
    send_at = serializers.DateTimeField(required=False, allow_null=True,
                                        help_text="Between 2000-01-01 and 2100-01-01.")
    recurrence = serializers.ChoiceField(Recurrence.choices, required=False, allow_blank=True)
    time_of_day = serializers.TimeField(required=False, allow_null=True)
    relative_attribute = serializers.RegexField(r"^[a-z][a-z0-9_]{0,63}\Z", required=False,
                                                allow_blank=True, max_length=64)
    offset_days = serializers.IntegerField(required=False, min_value=-3650, max_value=3650)
    window_start = serializers.TimeField(required=False, allow_null=True)
    window_end = serializers.TimeField(required=False, allow_null=True)

    def validate_send_at(self, value: datetime | None) -> datetime | None:
        return _planned(value)
    window_weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=7), required=False, max_length=7)


class ScheduleOutput(serializers.ModelSerializer):
    window_weekdays = serializers.ListField(child=serializers.IntegerField())

    class Meta:
        model = Schedule
        fields = ["id", "kind", "channel", "send_at", "recurrence", "time_of_day",
                  "relative_attribute", "offset_days", "window_start", "window_end",
                  "window_weekdays", "next_fire_at"]


# --- messages ---------------------------------------------------------------------------------

class MessageInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    channel = serializers.ChoiceField(Channel.choices)
    language = serializers.RegexField(LANGUAGE, max_length=8)
    framing = serializers.ChoiceField(Framing.choices)
    polarity = serializers.ChoiceField(Polarity.choices, required=False)
    subject = serializers.CharField(required=False, allow_blank=True, max_length=200)
    body = serializers.CharField(max_length=20000)


class MessageOutput(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "name", "channel", "language", "framing", "polarity", "subject", "body",
                  "created_at", "updated_at"]


class ResourceContextInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32, default="")
    url = serializers.URLField(required=False, allow_blank=True, max_length=500, default="")
    open_now = serializers.BooleanField(required=False, allow_null=True, default=None)
    kind = serializers.CharField(required=False, allow_blank=True, max_length=32, default="")


class StatuteContextInput(serializers.Serializer):
    name = serializers.CharField(max_length=300)
    section = serializers.CharField(required=False, allow_blank=True, max_length=120,
                                    default="")
    summary = serializers.CharField(required=False, allow_blank=True, max_length=2000,
                                    default="")
    max_penalty = serializers.CharField(required=False, allow_blank=True, max_length=500,
                                        default="")


class LegalNoticeContextInput(serializers.Serializer):
    jurisdiction = serializers.CharField(max_length=6)
    statutes = StatuteContextInput(many=True, required=False, default=list)


class SampleContextInput(serializers.Serializer):
    help_resources = ResourceContextInput(many=True, required=False, default=list)
    legal_notice = LegalNoticeContextInput(required=False, allow_null=True, default=None)
    help_link = serializers.URLField(required=False, allow_blank=True, default="")
    opt_out_link = serializers.URLField(required=False, allow_blank=True, default="")
    referral_code = serializers.CharField(required=False, allow_blank=True, max_length=12,
                                          default="ABC234")
    organisation_name = serializers.CharField(required=False, allow_blank=True,
                                              max_length=200, default="")


class PreviewInput(serializers.Serializer):
    country = serializers.RegexField(CODE, max_length=2, required=False, default="GB")
    stage = serializers.ChoiceField(AudienceStage.choices, required=False, allow_null=True,
                                    default=None)
    context = SampleContextInput(
        required=False, allow_null=True, default=None,
        help_text="A sample context. Without it the preview uses your directory's help "
                  "resources and legal notice for the country, language and stage.")


class PreviewOutput(serializers.Serializer):
    subject = serializers.CharField()
    text = serializers.CharField()
    html = serializers.CharField()
    sms_length = serializers.IntegerField()
    sms_segments = serializers.IntegerField()
    sms_encoding = serializers.CharField()
    help_resources = serializers.ListField(child=serializers.DictField())
