"""Public learning pages under /learn/ (modules by address, learners by resume token)."""

from django.urls import path

from learning import views

app_name = "learning"

urlpatterns = [
    path("learn/m/<slug:organisation>/<slug:slug>/", views.module_page, name="module"),
    path("learn/m/<slug:organisation>/<slug:slug>/new-link/", views.new_link, name="new_link"),
    path("learn/r/<str:token>/", views.home, name="home"),
    path("learn/r/<str:token>/lesson/<int:position>/", views.lesson, name="lesson"),
    path("learn/r/<str:token>/check/<str:phase>/", views.check, name="check"),
    path("learn/r/<str:token>/certificate/", views.certificate, name="certificate"),
    path("learn/r/<str:token>/mentoring/", views.mentoring, name="mentoring"),
]
