"""Public pages at the site root: signed help links, the demo partner page, the bench baseline.

The demo and benchmark views answer 404 unless DEBUG, DEMO_PAGES=1 or BENCH_ENDPOINTS=1.
"""

from django.urls import path

from interventions import views

app_name = "interventions"

urlpatterns = [
    path("go/<str:token>", views.go, name="go"),
    path("demo/partner/", views.demo_partner, name="demo-partner"),
    path("demo/partner/trigger", views.demo_trigger, name="demo-trigger"),
    path("bench/bare", views.bench_bare, name="bench-bare"),
    path("bench/bare-write", views.bench_bare_write, name="bench-bare-write"),
    path("bench/group-write", views.bench_group_write, name="bench-group-write"),
]
