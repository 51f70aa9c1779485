from django.urls import path

from delivery.api import views

urlpatterns = [
    path("campaigns/<str:pk>/progress", views.CampaignProgressView.as_view(),
         name="campaign-progress"),
    path("sms/status", views.SmsStatusView.as_view(), name="sms-status"),
]
