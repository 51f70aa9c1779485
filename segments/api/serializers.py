"""Input and output shapes for the segments API (kept apart, HackSoft style)."""

from __future__ import annotations

from rest_framework import serializers

from core.vocabulary import AudienceStage
from segments.models import AttributeType, ContactChannel, SuppressionReason

# ---- segments ---------------------------------------------------------------------------------


class SegmentInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    stage = serializers.ChoiceField(choices=AudienceStage.choices)
    rule = serializers.CharField(max_length=10_000, trim_whitespace=False,
                                 help_text='e.g. country in ("GB", "IE") and age >= 18')
    description = serializers.CharField(required=False, allow_blank=True, default="")


class SegmentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    stage = serializers.CharField()
    description = serializers.CharField()
    rule = serializers.CharField()
    fields = serializers.ListField(child=serializers.CharField())
    status = serializers.CharField(help_text="ready, or invalid (see error)")
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class SegmentRuleInput(serializers.Serializer):
    rule = serializers.CharField(max_length=20_000, trim_whitespace=False, allow_blank=True)


class SegmentRuleError(serializers.Serializer):
    message = serializers.CharField()
    line = serializers.IntegerField()
    column = serializers.IntegerField()


class SegmentRuleValidation(serializers.Serializer):
    valid = serializers.BooleanField()
    fields = serializers.ListField(child=serializers.CharField(),
                                   help_text="The fields the rule reads (when valid).")
    normalised = serializers.CharField(allow_null=True,
                                       help_text="The rule in canonical form (when valid).")
    error = SegmentRuleError(allow_null=True)


class SegmentPreviewOutput(serializers.Serializer):
    count = serializers.IntegerField(
        allow_null=True, help_text="Rounded; null when suppressed by disclosure control.")
    count_display = serializers.CharField(help_text='e.g. "1,235", "0" or "<10".')
    suppressed = serializers.BooleanField()
    samples = serializers.ListField(child=serializers.CharField(),
                                    help_text="A few pseudonym prefixes (none when suppressed).")


# ---- custom attributes ------------------------------------------------------------------------


class CustomAttributeInput(serializers.Serializer):
    name = serializers.CharField(max_length=63)
    type = serializers.ChoiceField(choices=AttributeType.choices)
    choices = serializers.ListField(child=serializers.CharField(max_length=100), required=False,
                                    default=list, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class CustomAttributeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    type = serializers.CharField()
    choices = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()


# ---- recipients -------------------------------------------------------------------------------


class RecipientInput(serializers.Serializer):
    """One recipient. Fields not given are cleared (a row is the whole profile), except
    contact points: a channel not given keeps its contact."""

    reference = serializers.CharField(max_length=200, help_text="The partner's own reference; "
                                      "stored only as a keyed pseudonym.")
    stage = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    country = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    language = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    time_zone = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    age = serializers.IntegerField(required=False, allow_null=True)
    status = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    attributes = serializers.DictField(required=False, child=serializers.JSONField())
    email = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    phone = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    consent_basis = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    consent_source = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    consented_at = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    verified = serializers.BooleanField(required=False)


class ContactPointOutput(serializers.Serializer):
    channel = serializers.CharField()
    consent_basis = serializers.CharField()
    consent_source = serializers.CharField()
    consented_at = serializers.DateTimeField()
    verified = serializers.BooleanField()


class RecipientFields(serializers.Serializer):
    """What every view of a recipient shows (never a raw reference)."""

    id = serializers.IntegerField()
    reference_pseudonym = serializers.CharField()
    stage = serializers.CharField()
    country = serializers.CharField()
    language = serializers.CharField()
    time_zone = serializers.CharField()
    age = serializers.IntegerField(allow_null=True)
    attributes = serializers.DictField()
    status = serializers.CharField()


class RecipientOutput(RecipientFields):
    contacts = ContactPointOutput(many=True, source="contact_points.all")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class RecipientLookupInput(serializers.Serializer):
    reference = serializers.CharField(max_length=200)


class RecipientRowError(serializers.Serializer):
    row = serializers.IntegerField()
    field = serializers.CharField()
    problem = serializers.CharField()


class RecipientImportReport(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    rejected_rows = serializers.IntegerField()
    rejected = RecipientRowError(many=True)


class RecipientImportUpload(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=["csv", "ndjson"], required=False)


class RecipientImportJson(serializers.Serializer):
    recipients = serializers.ListField(child=serializers.DictField(), max_length=100_000)


class RecipientExport(RecipientFields):
    """Everything held about one recipient, contact details decrypted (subject access)."""

    reference_key_id = serializers.CharField()
    created_at = serializers.CharField()
    updated_at = serializers.CharField()
    erased_at = serializers.CharField(allow_null=True)
    contacts = serializers.ListField(child=serializers.DictField())
    suppressions = serializers.ListField(child=serializers.DictField())


# ---- suppressions -----------------------------------------------------------------------------


class SuppressionInput(serializers.Serializer):
    """Give either `value` (an address or number) or `recipient` (an id), not both."""

    channel = serializers.ChoiceField(choices=ContactChannel.choices)
    reason = serializers.ChoiceField(choices=SuppressionReason.choices)
    value = serializers.CharField(required=False, max_length=320,
                                  help_text="The email address or phone number to suppress.")
    recipient = serializers.IntegerField(required=False, min_value=1,
                                         help_text="Or: suppress this recipient's contact.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")

    def validate(self, attrs: dict) -> dict:
        if ("value" in attrs) == ("recipient" in attrs):
            raise serializers.ValidationError({"value": ["give either value or recipient"]})
        return attrs


class SuppressionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    channel = serializers.CharField()
    reason = serializers.CharField()
    recipient = serializers.IntegerField(source="recipient_id", allow_null=True)
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class SmsInboundForm(serializers.Serializer):
    From = serializers.CharField(max_length=40)  # Twilio's field names
    Body = serializers.CharField(max_length=1600, allow_blank=True)


class SmsInboundResult(serializers.Serializer):
    suppressed = serializers.BooleanField()
