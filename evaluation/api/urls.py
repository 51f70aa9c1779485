from django.urls import path

from evaluation.api.views import (
    CampaignPlanView,
    CampaignReportCsvView,
    CampaignReportView,
    PlanAmendmentView,
)

urlpatterns = [
    path("campaigns/<int:campaign_id>/report", CampaignReportView.as_view(),
         name="campaign-report"),
    path("campaigns/<int:campaign_id>/report.csv", CampaignReportCsvView.as_view(),
         name="campaign-report-csv"),
    path("campaigns/<int:campaign_id>/plan", CampaignPlanView.as_view(), name="campaign-plan"),
    path("campaigns/<int:campaign_id>/plan/amendments", PlanAmendmentView.as_view(),
         name="campaign-plan-amendments"),
]
