"""Read API for the directory: thin views over directory.selectors."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from directory.api.serializers import (
    HelpResourceOutput,
    HelpResourceQuery,
    JurisdictionQuery,
    LegalNoticeOutput,
)
from directory.models import HelpResource, LegalNotice
from directory.selectors import (
    help_resource_get,
    help_resources_for,
    legal_notice_for,
    legal_notices_visible,
    signposts_of,
)
from organisations.api.principal import caller_organisation
from organisations.models import ApiScope

ERROR = OpenApiResponse(OpenApiTypes.OBJECT, description="{'detail': …} or {field: [message]}")
ERRORS_LIST = {400: ERROR, 401: ERROR, 403: ERROR}
ERRORS_DETAIL = {401: ERROR, 403: ERROR, 404: ERROR}

HELPLINE_EXAMPLE = {
    "slug": "stop-it-now-uk-ireland-helpline",
    "name": "Stop It Now! UK and Ireland helpline (telephone)",
    "provider_organisation": "The Lucy Faithfull Foundation",
    "description": "A confidential UK phone line where trained advisors talk through worries "
                   "about a person's own or someone else's sexual thoughts or behaviour towards "
                   "children and agree practical next steps.",
    "kind": "helpline",
    "audiences": ["at_risk_self", "offender", "concerned_family_or_friend", "professional",
                  "survivor"],
    "countries": ["GB"],
    "languages": ["en", "cy"],
    "phone": "+448081000900",
    "url": "https://www.stopitnow.org.uk/helpline/",
    "opening_hours_text": "Historically Mon-Thu 09:00-21:00 and Fri 09:00-17:00 (UK time) …",
    "opening_hours": [{"weekday": 1, "opens": "09:00", "closes": "21:00"}],
    "time_zone": "Europe/London",
    "structured_hours_note": "Demo only: structured from historical hours; not confirmed.",
    "open_now": True,
    "anonymous": True,
    "cost": "free",
    "caveats": ["Opening hours come from older pages and may be out of date."],
    "inferred_fields": [],
    "source_status": "verified",
    "source_checked_on": "2026-11-24",
    "displayable": True,
    "verification_status": "confirmed",
    "confirmed_at": "2026-12-01T10:00:00Z",
    "language_fallback": False,
}


class DirectoryView(GenericAPIView):
    read_scope = ApiScope.HELP_RESOURCES_READ
    filter_backends: list = []

    def validated_query(self, serializer_class: type) -> dict:
        query = serializer_class(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return query.validated_data


class HelpResourceListView(DirectoryView):
    """The help services to signpost, best first (see directory.selectors.help_resources_for).

    Only displayable records confirmed by the programme within its policy window are listed.
    A partner sees the directories of the programmes it partners with.
    """

    serializer_class = HelpResourceOutput
    queryset = HelpResource.objects.none()

    @extend_schema(
        operation_id="help_resources_list",
        parameters=[HelpResourceQuery],
        responses={200: HelpResourceOutput(many=True), **ERRORS_LIST},
        examples=[OpenApiExample("Stop It Now UK helpline", value=HELPLINE_EXAMPLE,
                                 response_only=True)],
    )
    def get(self, request: Request) -> Response:
        query = self.validated_query(HelpResourceQuery)
        resources = help_resources_for(
            organisation=caller_organisation(request), country=query.get("country"),
            language=query.get("language"), audience=query.get("audience"))
        open_now = query.get("open_now")
        if open_now is not None:
            resources = [r for r in resources if (r.open_now is True) == open_now]
        page = self.paginate_queryset(resources)
        return self.get_paginated_response(HelpResourceOutput(page, many=True).data)


class HelpResourceDetailView(DirectoryView):
    """One resource by slug, in any verification state (with its status); contact routes are
    null when the record is not displayable. Another organisation's resource is a 404."""

    serializer_class = HelpResourceOutput
    queryset = HelpResource.objects.none()

    @extend_schema(
        operation_id="help_resources_retrieve",
        parameters=[OpenApiParameter("slug", OpenApiTypes.STR, OpenApiParameter.PATH,
                                     pattern=r"^[-a-zA-Z0-9_]+$")],
        responses={200: HelpResourceOutput, **ERRORS_DETAIL},
        examples=[OpenApiExample("Stop It Now UK helpline", value=HELPLINE_EXAMPLE,
                                 response_only=True)],
    )
    def get(self, request: Request, slug: str) -> Response:
        organisation = caller_organisation(request)
        resource = help_resource_get(organisation=organisation, slug=slug)
        if resource is None:
            raise Http404
        return Response(HelpResourceOutput(signposts_of([resource])[0]).data)


LEGAL_EXAMPLE = {
    "jurisdiction": "GB-ENG",
    "also_applies_to": ["GB-WLS"],
    "level": "",
    "confidence": "high for maxima",
    "confidentiality_note": "",
    "source_checked_on": "2026-11-24",
    "statutes": [{
        "name": "Criminal Justice Act 1988", "section": "s.160",
        "offence_summary": "Makes simple possession of an indecent photograph or "
                           "pseudo-photograph of a child an offence.",
        "max_penalty": "5 years' imprisonment on indictment.",
        "source": "http://www.cps.gov.uk/legal/s_to_u/sentencing_manual/"
                  "indecent_images_of_children/",
        "supporting_sources": [],
    }],
}


class LegalNoticeListView(DirectoryView):
    """Legal notices. With `jurisdiction`, the one notice that applies there (0 or 1 items),
    following also_applies_to and the country / sub-national fallbacks."""

    serializer_class = LegalNoticeOutput
    queryset = LegalNotice.objects.none()

    @extend_schema(
        operation_id="legal_notices_list",
        parameters=[JurisdictionQuery],
        responses={200: LegalNoticeOutput(many=True), **ERRORS_LIST},
        examples=[OpenApiExample("England and Wales", value=LEGAL_EXAMPLE,
                                 response_only=True)],
    )
    def get(self, request: Request) -> Response:
        organisation = caller_organisation(request)
        jurisdiction = self.validated_query(JurisdictionQuery).get("jurisdiction")
        if jurisdiction:
            notice = legal_notice_for(organisation=organisation, jurisdiction=jurisdiction)
            notices = [notice] if notice else []
        else:
            notices = legal_notices_visible(organisation=organisation)
        page = self.paginate_queryset(notices)
        return self.get_paginated_response(LegalNoticeOutput(page, many=True).data)


class LegalNoticeDetailView(DirectoryView):
    """The notice that applies in a jurisdiction (with the same fallbacks), or 404."""

    serializer_class = LegalNoticeOutput
    queryset = LegalNotice.objects.none()

    @extend_schema(
        operation_id="legal_notices_retrieve",
        parameters=[OpenApiParameter("jurisdiction", OpenApiTypes.STR, OpenApiParameter.PATH,
                                     description="ISO 3166-1 or 3166-2, e.g. GB-ENG")],
        responses={200: LegalNoticeOutput, **ERRORS_DETAIL},
        examples=[OpenApiExample("England and Wales", value=LEGAL_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, jurisdiction: str) -> Response:
        query = JurisdictionQuery(data={"jurisdiction": jurisdiction})
        if not query.is_valid():
            raise Http404  # not a jurisdiction code, so no such notice
        notice = legal_notice_for(organisation=caller_organisation(request),
                                  jurisdiction=query.validated_data["jurisdiction"])
        if notice is None:
            raise Http404
        return Response(LegalNoticeOutput(notice).data)
