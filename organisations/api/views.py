from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from organisations.api.principal import caller_api_key, caller_organisation, caller_scopes


class WhoAmIOutput(serializers.Serializer):
    organisation = serializers.CharField()
    organisation_kind = serializers.CharField()
    key_prefix = serializers.CharField(allow_null=True)
    scopes = serializers.ListField(child=serializers.CharField())


class WhoAmIView(APIView):
    """Which organisation and scopes the presented credentials carry (to test a new key)."""

    @extend_schema(responses=WhoAmIOutput, operation_id="whoami")
    def get(self, request: Request) -> Response:
        organisation = caller_organisation(request)
        api_key = caller_api_key(request)
        data = {
            "organisation": organisation.slug,
            "organisation_kind": organisation.kind,
            "key_prefix": api_key.prefix if api_key else None,
            "scopes": sorted(caller_scopes(request)),
        }
        return Response(WhoAmIOutput(data).data)
