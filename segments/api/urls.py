from django.urls import path

from segments.api import views

urlpatterns = [
    path("segments", views.SegmentListView.as_view(), name="segments"),
    path("segments/validate", views.SegmentValidateView.as_view(), name="segments-validate"),
    path("segments/<int:pk>", views.SegmentDetailView.as_view(), name="segment"),
    path("segments/<int:pk>/preview", views.SegmentPreviewView.as_view(),
         name="segment-preview"),
    path("attributes", views.AttributeListView.as_view(), name="attributes"),
    path("attributes/<int:pk>", views.AttributeDetailView.as_view(), name="attribute"),
    path("recipients", views.RecipientListView.as_view(), name="recipients"),
    path("recipients/import", views.RecipientImportView.as_view(), name="recipients-import"),
    path("recipients/lookup", views.RecipientLookupView.as_view(), name="recipients-lookup"),
    path("recipients/<int:pk>", views.RecipientDetailView.as_view(), name="recipient"),
    path("recipients/<int:pk>/erase", views.RecipientEraseView.as_view(),
         name="recipient-erase"),
    path("recipients/<int:pk>/export", views.RecipientExportView.as_view(),
         name="recipient-export"),
    path("suppressions", views.SuppressionListView.as_view(), name="suppressions"),
    path("suppressions/<int:pk>", views.SuppressionDetailView.as_view(), name="suppression"),
    path("sms/inbound", views.SmsInboundView.as_view(), name="sms-inbound"),
]
