from django.urls import path

from campaigns.api import views

urlpatterns = [
    path("campaigns/", views.CampaignListView.as_view(), name="campaign-list"),
    path("campaigns/<str:pk>/", views.CampaignDetailView.as_view(), name="campaign-detail"),
    *[
        path(f"campaigns/<str:pk>/{action}", view.as_view(), name=f"campaign-{action}")
        for action, view in views.TRANSITION_VIEWS.items()
    ],
    path("campaigns/<str:pk>/launch-problems", views.LaunchProblemsView.as_view(),
         name="campaign-launch-problems"),
    path("campaigns/<str:pk>/flights/", views.FlightListView.as_view(), name="flight-list"),
    path("campaigns/<str:pk>/flights/<str:flight_id>/", views.FlightDetailView.as_view(),
         name="flight-detail"),
    path("campaigns/<str:pk>/arms/", views.ArmListView.as_view(), name="arm-list"),
    path("campaigns/<str:pk>/arms/<str:arm_id>/", views.ArmDetailView.as_view(),
         name="arm-detail"),
    path("campaigns/<str:pk>/schedules/", views.ScheduleListView.as_view(),
         name="schedule-list"),
    path("campaigns/<str:pk>/schedules/<str:schedule_id>/", views.ScheduleDetailView.as_view(),
         name="schedule-detail"),
    path("messages/", views.MessageListView.as_view(), name="message-list"),
    path("messages/<str:pk>/", views.MessageDetailView.as_view(), name="message-detail"),
    path("messages/<str:pk>/preview", views.MessagePreviewView.as_view(),
         name="message-preview"),
]
