from django.urls import path

from segments import views

app_name = "segments"

urlpatterns = [
    path("opt-out/<str:token>", views.opt_out, name="opt-out"),
]
