from django.urls import path

from directory.api.views import (
    HelpResourceDetailView,
    HelpResourceListView,
    LegalNoticeDetailView,
    LegalNoticeListView,
)

urlpatterns = [
    path("help-resources/", HelpResourceListView.as_view(), name="help-resource-list"),
    path("help-resources/<slug:slug>/", HelpResourceDetailView.as_view(),
         name="help-resource-detail"),
    path("legal-notices/", LegalNoticeListView.as_view(), name="legal-notice-list"),
    path("legal-notices/<str:jurisdiction>/", LegalNoticeDetailView.as_view(),
         name="legal-notice-detail"),
]
