"""The person's chat page and JSON endpoints, and the counsellor console (under /help/)."""

from django.urls import path

from helpline import views

app_name = "helpline"

urlpatterns = [
    path("help/chat/<slug:slug>/", views.chat_page, name="chat"),
    path("help/chat/<slug:slug>/status", views.status, name="status"),
    path("help/resource/<int:resource_id>/status", views.resource_status,
         name="resource-status"),
    path("help/chat/<slug:slug>/start", views.start, name="start"),
    path("help/chat/<slug:slug>/resume", views.resume, name="resume"),
    path("help/conversation", views.person_poll, name="person-poll"),
    path("help/conversation/messages", views.person_message, name="person-message"),
    path("help/conversation/leave", views.person_leave, name="person-leave"),
    path("help/console/", views.console, name="console"),
    path("help/console/state", views.console_state, name="console-state"),
    path("help/console/presence", views.console_presence, name="console-presence"),
    path("help/console/claim", views.console_claim, name="console-claim"),
    path("help/console/conversations/<str:conversation_id>", views.console_conversation,
         name="console-conversation"),
    path("help/console/conversations/<str:conversation_id>/messages", views.console_message,
         name="console-message"),
    path("help/console/conversations/<str:conversation_id>/transfer", views.console_transfer,
         name="console-transfer"),
    path("help/console/conversations/<str:conversation_id>/end", views.console_end,
         name="console-end"),
    path("help/console/conversations/<str:conversation_id>/flag", views.console_flag,
         name="console-flag"),
    path("help/console/flags/<int:flag_id>/acknowledge", views.console_acknowledge,
         name="console-acknowledge"),
]
