from __future__ import annotations

from rest_framework import serializers


class FailureReasonOutput(serializers.Serializer):
    reason = serializers.CharField()
    count = serializers.CharField(help_text="Disclosure-controlled: a rounded figure or '<10'.")


class StateCountsOutput(serializers.Serializer):
    queued = serializers.CharField()
    sending = serializers.CharField()
    sent = serializers.CharField()
    delivered = serializers.CharField()
    failed = serializers.CharField()
    suppressed = serializers.CharField()
    skipped = serializers.CharField()


class ProgressOutput(serializers.Serializer):
    campaign = serializers.IntegerField()
    status = serializers.CharField()
    counts = StateCountsOutput(help_text="Deliveries by state, disclosure-controlled.")
    total = serializers.CharField()
    retries = serializers.CharField()
    failure_reasons = FailureReasonOutput(many=True)
    done_percent = serializers.IntegerField(allow_null=True)


class SmsStatusInput(serializers.Serializer):
    MessageSid = serializers.CharField(max_length=128)
    MessageStatus = serializers.CharField(max_length=32)
    ErrorCode = serializers.CharField(max_length=16, required=False, allow_blank=True)


class SmsStatusOutput(serializers.Serializer):
    state = serializers.CharField()
    changed = serializers.BooleanField()
