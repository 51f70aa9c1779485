from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from outreach.health import healthz

API_APPS = ["organisations", "directory", "segments", "campaigns", "delivery", "interventions",
            "evaluation"]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    *[path("api/v1/", include(f"{app}.api.urls")) for app in API_APPS],
    # Public, unauthenticated pages (signed links, opt-out, demo partner page) per app.
    path("", include("segments.urls")),
    path("", include("interventions.urls")),
]
