from django.urls import path

from organisations.api.views import WhoAmIView

urlpatterns = [path("whoami", WhoAmIView.as_view(), name="whoami")]
