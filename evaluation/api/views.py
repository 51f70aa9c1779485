"""Evaluation API: the disclosed campaign report (JSON or CSV) and the evaluation plan."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import renderers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Campaign
from evaluation import selectors, services
from evaluation.api.serializers import (
    AmendmentInput,
    AmendmentOutput,
    PlanInput,
    PlanOutput,
    ReportOutput,
)
from evaluation.exports import report_as_csv, report_as_dict
from evaluation.reports import campaign_report
from organisations.api.principal import caller_api_key, caller_organisation
from organisations.models import ApiScope
from organisations.services import Actor

ERROR = OpenApiResponse(OpenApiTypes.OBJECT, description="{'detail': …} or {field: [message]}")
READ_ERRORS = {401: ERROR, 403: ERROR, 404: ERROR}


class CsvRenderer(renderers.BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):  # type: ignore[no-untyped-def]
        if isinstance(data, str | bytes):
            return data
        # An error answer ({"detail": ...}) asked for as CSV: one "field,message" row each.
        rows = [f'"{k}","{str(v).replace(chr(34), chr(39))}"' for k, v in (data or {}).items()]
        return "\n".join(["field,message", *rows]) + "\n"


def _actor(request: Request) -> Actor:
    api_key = caller_api_key(request)
    return Actor(user=None if api_key else request.user, api_key=api_key)


def _report_campaign(request: Request, campaign_id: int) -> Campaign:
    try:
        return selectors.campaign_for_report(organisation=caller_organisation(request),
                                             campaign_id=campaign_id)
    except Campaign.DoesNotExist as missing:
        raise Http404("No such campaign.") from missing


def _report(campaign: Campaign):  # type: ignore[no-untyped-def]
    policy = services.disclosure_policy_for(campaign.organisation)
    return campaign_report(campaign=campaign, policy=policy)


class CampaignReportView(APIView):
    """The campaign's evaluation report, every count through disclosure control."""

    read_scope = ApiScope.REPORTS_READ
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]

    @extend_schema(
        operation_id="campaign_report",
        responses={(200, "application/json"): ReportOutput, (200, "text/csv"): OpenApiTypes.STR,
                   **READ_ERRORS},
        description="Arms against the comparator with intervals, SRM, funnel, daily series, "
                    "stratified and population results. `?format=csv` (or `report.csv`) for "
                    "the same figures as CSV. Counts below the programme's threshold are "
                    "shown as '<10'; others are rounded.",
        examples=[OpenApiExample("A hidden count", response_only=True, value={
            "arms": [{"name": "legal", "exposures": {"value": 1400000,
                                                     "display": "1,400,000",
                                                     "suppressed": False},
                      "outcomes": {"helpline_contact": {"value": None, "display": "<10",
                                                        "suppressed": True}}}]})],
    )
    def get(self, request: Request, campaign_id: int) -> Response:
        report = _report(_report_campaign(request, campaign_id))
        if request.accepted_renderer.format == "csv":
            return Response(report_as_csv(report), content_type="text/csv; charset=utf-8")
        return Response(report_as_dict(report))


class CampaignReportCsvView(APIView):
    read_scope = ApiScope.REPORTS_READ

    @extend_schema(operation_id="campaign_report_csv",
                   responses={(200, "text/csv"): OpenApiTypes.STR, **READ_ERRORS})
    def get(self, request: Request, campaign_id: int) -> HttpResponse:
        report = _report(_report_campaign(request, campaign_id))
        response = HttpResponse(report_as_csv(report), content_type="text/csv; charset=utf-8")
        name = f"campaign-{campaign_id}-report.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


def _owned_campaign(request: Request, campaign_id: int) -> Campaign:
    try:
        return selectors.campaign_owned(organisation=caller_organisation(request),
                                        campaign_id=campaign_id)
    except Campaign.DoesNotExist as missing:
        raise Http404("No such campaign.") from missing


def _plan_output(plan) -> dict:  # type: ignore[no-untyped-def]
    return PlanOutput(plan).data


class CampaignPlanView(APIView):
    """The campaign's pre-registered evaluation plan. PUT edits it until the campaign starts;
    then it is locked and changes only through amendments."""

    read_scope = ApiScope.CAMPAIGNS_READ
    write_scope = ApiScope.CAMPAIGNS_WRITE

    @extend_schema(operation_id="campaign_plan_get", responses={200: PlanOutput, **READ_ERRORS})
    def get(self, request: Request, campaign_id: int) -> Response:
        plan = selectors.plan_for_campaign(campaign=_owned_campaign(request, campaign_id))
        if plan is None:
            raise Http404("This campaign has no evaluation plan yet.")
        return Response(_plan_output(plan))

    @extend_schema(operation_id="campaign_plan_put", request=PlanInput,
                   responses={200: PlanOutput, 201: PlanOutput, 400: ERROR, 409: ERROR,
                              **READ_ERRORS})
    def put(self, request: Request, campaign_id: int) -> Response:
        campaign = _owned_campaign(request, campaign_id)
        data = PlanInput(data=request.data)
        data.is_valid(raise_exception=True)
        plan = selectors.plan_for_campaign(campaign=campaign)
        if plan is None:
            plan = services.plan_create(campaign=campaign, actor=_actor(request),
                                        **data.validated_data)
            return Response(_plan_output(plan), status=status.HTTP_201_CREATED)
        plan = services.plan_update(plan=plan, actor=_actor(request), **data.validated_data)
        return Response(_plan_output(plan))


class PlanAmendmentView(APIView):
    read_scope = ApiScope.CAMPAIGNS_READ
    write_scope = ApiScope.CAMPAIGNS_WRITE

    @extend_schema(operation_id="campaign_plan_amend", request=AmendmentInput,
                   responses={201: AmendmentOutput, 400: ERROR, 409: ERROR, **READ_ERRORS})
    def post(self, request: Request, campaign_id: int) -> Response:
        plan = selectors.plan_for_campaign(campaign=_owned_campaign(request, campaign_id))
        if plan is None:
            raise Http404("This campaign has no evaluation plan yet.")
        data = AmendmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        amendment = services.plan_amend(plan=plan, actor=_actor(request),
                                        reason=data.validated_data["reason"],
                                        **data.validated_data["changes"])
        return Response(AmendmentOutput(amendment).data, status=status.HTTP_201_CREATED)
