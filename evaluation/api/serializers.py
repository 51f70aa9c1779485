"""Input and output serializers for the evaluation API (kept apart, HackSoft style)."""

from __future__ import annotations

from rest_framework import serializers

from core.vocabulary import OutcomeKind
from evaluation.models import AnalysisMethod, ComparatorKind, UnitOfAnalysis


class ReportOutput(serializers.Serializer):
    """A disclosed campaign report. Counts are {value, display, suppressed}: value is null
    and display is "<10" or "[c]" when disclosure control hides the count."""

    campaign = serializers.JSONField()
    generated_at = serializers.CharField()
    disclosure = serializers.JSONField()
    plan = serializers.JSONField(allow_null=True)
    primary_outcome = serializers.CharField()
    comparator = serializers.CharField(allow_null=True)
    arms = serializers.ListField(child=serializers.JSONField())
    totals = serializers.JSONField(allow_null=True)
    comparisons = serializers.ListField(child=serializers.JSONField())
    secondary_comparisons = serializers.ListField(child=serializers.JSONField())
    funnel = serializers.JSONField()
    srm = serializers.JSONField(allow_null=True)
    progress = serializers.JSONField(allow_null=True)
    daily = serializers.ListField(child=serializers.JSONField())
    strata = serializers.ListField(child=serializers.JSONField())
    stratified = serializers.ListField(child=serializers.JSONField())
    population = serializers.JSONField(allow_null=True)
    notes = serializers.ListField(child=serializers.CharField())




def _outcomes() -> serializers.ListField:
    return serializers.ListField(child=serializers.ChoiceField(choices=OutcomeKind.choices),
                                 required=False, max_length=20)


class PlanInput(serializers.Serializer):
    hypothesis = serializers.CharField(max_length=5000)
    primary_outcome = serializers.ChoiceField(choices=OutcomeKind.choices)
    secondary_outcomes = _outcomes()
    guardrail_outcomes = _outcomes()
    comparator_kind = serializers.ChoiceField(choices=ComparatorKind.choices)
    comparator_rationale = serializers.CharField(max_length=5000)
    unit_of_analysis = serializers.ChoiceField(choices=UnitOfAnalysis.choices)
    alpha = serializers.FloatField(min_value=0.0001, max_value=0.4999)
    power = serializers.FloatField(min_value=0.01, max_value=0.9999)
    baseline_rate = serializers.FloatField(min_value=1e-9, max_value=0.999999)
    minimum_detectable_effect = serializers.FloatField(
        min_value=-1e6, max_value=1e6,
        help_text="Not zero. With mde_is_relative a share of the baseline (0.2: +20 %), else "
        "an absolute difference; baseline plus effect must stay strictly between 0 and 1, and "
        "the plan may need at most the documented sample per arm (400 naming this field).")
    mde_is_relative = serializers.BooleanField(default=True)
    analysis_method = serializers.ChoiceField(choices=AnalysisMethod.choices, required=False)
    sequential = serializers.BooleanField(default=False)


class AmendmentInput(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)
    changes = serializers.DictField(help_text="Plan fields to change, as in PUT .../plan.")

    def validate_changes(self, value: dict) -> dict:
        if not value:
            raise serializers.ValidationError("name at least one plan field to change")
        unknown = sorted(set(value) - set(PlanInput().fields))
        if unknown:
            raise serializers.ValidationError(f"unknown plan fields: {', '.join(unknown)}")
        changes = PlanInput(data=value, partial=True)
        changes.is_valid(raise_exception=True)
        return dict(changes.validated_data)


class AmendmentOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    reason = serializers.CharField()
    changes = serializers.JSONField()
    by = serializers.CharField(source="actor_label")
    previous_hash = serializers.CharField()
    new_hash = serializers.CharField()


class PlanOutput(serializers.Serializer):
    campaign = serializers.IntegerField(source="campaign_id")
    hypothesis = serializers.CharField()
    primary_outcome = serializers.CharField()
    secondary_outcomes = serializers.ListField(child=serializers.CharField())
    guardrail_outcomes = serializers.ListField(child=serializers.CharField())
    comparator_kind = serializers.CharField()
    comparator_rationale = serializers.CharField()
    unit_of_analysis = serializers.CharField()
    alpha = serializers.FloatField()
    power = serializers.FloatField()
    baseline_rate = serializers.FloatField()
    minimum_detectable_effect = serializers.FloatField()
    mde_is_relative = serializers.BooleanField()
    required_sample_per_arm = serializers.IntegerField(allow_null=True)
    analysis_method = serializers.CharField()
    sequential = serializers.BooleanField()
    locked_at = serializers.DateTimeField(allow_null=True)
    locked_hash = serializers.CharField()
    amendments = AmendmentOutput(many=True)
