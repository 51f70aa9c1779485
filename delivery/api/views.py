"""Delivery API: campaign progress for managers and partners' tools, and SMS status callbacks."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.edge import CheckedFormParser, CheckedJSONParser
from delivery import selectors
from delivery.api import serializers as s
from delivery.services import delivery_status_update
from delivery.signing import HEADER
from organisations.api.principal import caller_organisation
from organisations.models import ApiScope


class CampaignProgressView(APIView):
    """How far a campaign's scheduled sending has got: deliveries by state, top failure
    reasons and retries. Every figure passes disclosure control (small counts show '<10')."""

    read_scope = ApiScope.CAMPAIGNS_READ

    @extend_schema(responses={200: s.ProgressOutput, 404: OpenApiResponse(
        description="No such campaign in your organisation.")},
        operation_id="campaign_progress")
    def get(self, request: Request, pk: str) -> Response:
        campaign = selectors.campaign_for_progress(organisation=caller_organisation(request),
                                                   pk=pk)
        if campaign is None:
            raise Http404
        progress = selectors.campaign_progress(campaign=campaign)
        return Response(s.ProgressOutput(progress.disclosed()).data)


class SmsStatusView(APIView):
    """Delivery-status callback from the SMS provider (Twilio-style form fields).

    The provider signs each callback with the SMS channel's `callback_secret`:
    `Outreach-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>`
    (see delivery/README.md). The signature is checked before anything is looked up: a bad
    or missing one is a 403 whatever the body holds; then a malformed body is a 400 and a
    message id unknown to the signing organisation a 404.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    parser_classes = [CheckedFormParser, CheckedJSONParser]

    @extend_schema(
        request={"application/x-www-form-urlencoded": s.SmsStatusInput,
                 "application/json": s.SmsStatusInput},
        parameters=[OpenApiParameter(HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER,
                                     required=True, description="t=<unix>,v1=<hex>")],
        responses={200: s.SmsStatusOutput,
                   400: OpenApiResponse(description="A field is missing or malformed."),
                   403: OpenApiResponse(description="The signature does not verify (checked "
                                        "first, before the body is read or anything looked "
                                        "up)."),
                   404: OpenApiResponse(description="No SMS with this MessageSid (of the "
                                        "signing organisation).")},
        examples=[OpenApiExample("Delivered", request_only=True, value={
            "MessageSid": "SM00000001", "MessageStatus": "delivered"})],
        operation_id="sms_status_callback", auth=[])
    def post(self, request: Request) -> Response:
        body = request.body  # read before request.data consumes the stream
        # The signature first: an unsigned caller learns nothing, not even whether an id exists.
        organisation_id = selectors.callback_signer(body, request.headers.get(HEADER, ""),
                                                    channel="sms")
        if organisation_id is None:
            raise PermissionDenied("The signature does not verify.")
        data = s.SmsStatusInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        delivery = selectors.delivery_for_provider_id(
            provider_message_id=fields["MessageSid"], channel="sms",
            organisation_id=organisation_id)
        if delivery is None:
            raise Http404
        update = delivery_status_update(delivery=delivery, status=fields["MessageStatus"],
                                        error_code=fields.get("ErrorCode", ""))
        return Response(s.SmsStatusOutput({"state": update.state,
                                           "changed": update.changed}).data)
