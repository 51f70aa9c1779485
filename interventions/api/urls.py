from django.urls import path

from interventions.api.views import (
    InterventionView,
    OutcomeAggregatesView,
    OutcomeBatchView,
    OutcomeView,
)

urlpatterns = [
    path("interventions", InterventionView.as_view(), name="interventions"),
    path("outcomes", OutcomeView.as_view(), name="outcomes"),
    path("outcomes/batch", OutcomeBatchView.as_view(), name="outcomes-batch"),
    path("outcomes/aggregates", OutcomeAggregatesView.as_view(), name="outcomes-aggregates"),
]
