"""Campaigns API: thin views over campaigns.selectors, campaigns.authoring and campaigns.lifecycle.

Programme organisations read and write their own campaigns and messages. A partner reads the
campaigns it is enrolled in and may not change them (403); anything else is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db.models import Model
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns import authoring, launch, lifecycle, selectors
from campaigns.api.serializers import (
    ArmInput,
    ArmOutput,
    CampaignInput,
    CampaignOutput,
    FlightInput,
    FlightOutput,
    LaunchProblemsOutput,
    MessageInput,
    MessageOutput,
    PreviewInput,
    PreviewOutput,
    ScheduleInput,
    ScheduleOutput,
    TransitionInput,
)
from campaigns.models import Arm, Campaign, Flight, Message, Schedule
from campaigns.rendering import RenderContext, RenderError, build_preview_context, render_message
from core.errors import InvalidInput
from organisations.api.principal import ApiPrincipal, caller_api_key, caller_organisation
from organisations.models import ApiScope, Organisation
from organisations.services import Actor

ERROR = OpenApiResponse(OpenApiTypes.OBJECT, description="{'detail': …} or {field: [message]}")
CONFLICT = OpenApiResponse(OpenApiTypes.OBJECT,
                           description="{'detail': 'cannot … a campaign that is …', "
                                       "'current_state': …}")
READ_ERRORS = {401: ERROR, 403: ERROR, 404: ERROR}
WRITE_ERRORS = {400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR, 409: CONFLICT}
MAX_ID = 2**31 - 1


def id_parameter(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.INT, OpenApiParameter.PATH,
                            description=f"The {what}'s id.")


CAMPAIGN_ID = id_parameter("pk", "campaign")
CAMPAIGN_EXAMPLE = {
    "name": "Stop It Now signposting — UK", "objective": "Signpost confidential help.",
    "channels": ["email", "on_platform"], "countries": ["GB"], "languages": ["en"],
    "segments": [1], "partners": ["example-search"], "priority": 10,
    "frequency_cap_count": 1, "frequency_cap_days": 7, "design": "per_person",
}


def parse_id(value: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Http404 from None
    if not 1 <= number <= MAX_ID:
        raise Http404
    return number


def request_actor(request: Request) -> Actor:
    if isinstance(request.user, ApiPrincipal):
        return Actor(api_key=caller_api_key(request))
    return Actor(user=request.user)


def validated(serializer_class: type, data: Any, *, partial: bool = False) -> dict:
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class CampaignsBase(GenericAPIView):
    read_scope = ApiScope.CAMPAIGNS_READ
    write_scope = ApiScope.CAMPAIGNS_WRITE
    filter_backends: list = []
    queryset = Campaign.objects.none()
    serializer_class = CampaignOutput

    @property
    def organisation(self) -> Organisation:
        return caller_organisation(self.request)

    def campaign(self, pk: str) -> Campaign:
        campaign = selectors.campaign_get(organisation=self.organisation, pk=parse_id(pk))
        if campaign is None:
            raise Http404
        return campaign

    def owned_campaign(self, pk: str) -> Campaign:
        campaign = self.campaign(pk)
        if not selectors.campaign_is_owned_by(campaign, self.organisation):
            raise PermissionDenied("Partners see the campaigns they are enrolled in read-only.")
        return campaign

    def child(self, queryset: Any, pk: str) -> Model:
        found = queryset.filter(pk=parse_id(pk)).first()
        if found is None:
            raise Http404
        return found


def campaign_fields(organisation: Organisation, data: dict) -> dict:
    """Turn segment ids and partner slugs into objects of the caller's organisation."""
    if "segments" in data:
        ids = set(data["segments"])
        segments = list(organisation.segments.filter(pk__in=ids))
        if len(segments) != len(ids):
            raise InvalidInput("Unknown segment id(s).", field="segments")
        data["segments"] = segments
    if "partners" in data:
        slugs = set(data["partners"])
        # Only this programme's partners: another organisation's slug gets the answer of an
        # unknown one (naming it would tell that it exists, and its display name).
        partners = list(Organisation.objects.filter(
            slug__in=slugs, programme_partnerships__programme=organisation).distinct())
        if len(partners) != len(slugs):
            raise InvalidInput("Unknown partner organisation(s).", field="partners")
        data["partners"] = partners
    return data


def campaign_output(campaign: Campaign) -> dict:
    campaign = Campaign.objects.prefetch_related("segments", "partners", "flights").select_related(
        "organisation").get(pk=campaign.pk)
    return CampaignOutput(campaign).data


class CampaignListView(CampaignsBase):
    """Your campaigns (a partner: the campaigns it is enrolled in), highest priority first."""

    @extend_schema(operation_id="campaigns_list",
                   responses={200: CampaignOutput(many=True), **READ_ERRORS})
    def get(self, request: Request) -> Response:
        campaigns = (selectors.campaigns_visible_to(self.organisation)
                     .prefetch_related("segments", "partners", "flights")
                     .order_by("-priority", "pk"))
        page = self.paginate_queryset(campaigns)
        return self.get_paginated_response(CampaignOutput(page, many=True).data)

    @extend_schema(operation_id="campaigns_create", request=CampaignInput,
                   responses={201: CampaignOutput, **WRITE_ERRORS},
                   examples=[OpenApiExample("A UK campaign", value=CAMPAIGN_EXAMPLE,
                                            request_only=True)])
    def post(self, request: Request) -> Response:
        data = campaign_fields(self.organisation, validated(CampaignInput, request.data))
        campaign = authoring.campaign_create(organisation=self.organisation,
                                            actor=request_actor(request), **data)
        return Response(campaign_output(campaign), status=201)


class CampaignDetailView(CampaignsBase):
    """One campaign. Editing an in-review or approved campaign returns it to draft."""

    @extend_schema(operation_id="campaigns_retrieve", parameters=[CAMPAIGN_ID],
                   responses={200: CampaignOutput, **READ_ERRORS})
    def get(self, request: Request, pk: str) -> Response:
        return Response(campaign_output(self.campaign(pk)))

    @extend_schema(operation_id="campaigns_partial_update", parameters=[CAMPAIGN_ID],
                   request=CampaignInput, responses={200: CampaignOutput, **WRITE_ERRORS})
    def patch(self, request: Request, pk: str) -> Response:
        campaign = self.owned_campaign(pk)
        data = campaign_fields(self.organisation,
                               validated(CampaignInput, request.data, partial=True))
        authoring.campaign_update(campaign=campaign, actor=request_actor(request), **data)
        return Response(campaign_output(campaign))


def transition_view(action: str, service: Callable[..., Campaign], summary: str) -> type:
    takes_reason = action in ("reject", "cancel")

    class TransitionView(CampaignsBase):
        @extend_schema(operation_id=f"campaigns_{action}", summary=summary,
                       parameters=[CAMPAIGN_ID], request=TransitionInput,
                       responses={200: CampaignOutput, **WRITE_ERRORS})
        def post(self, request: Request, pk: str) -> Response:
            campaign = self.owned_campaign(pk)
            data = validated(TransitionInput, request.data)
            extra = {"reason": data.get("reason", "")} if takes_reason else {}
            service(campaign=campaign, actor=request_actor(request), **extra)
            return Response(campaign_output(campaign))

    TransitionView.__name__ = f"Campaign{action.title()}View"
    TransitionView.__qualname__ = TransitionView.__name__
    return TransitionView


TRANSITION_VIEWS = {
    "submit": transition_view("submit", lifecycle.campaign_submit,
                              "Submit a draft for review."),
    "approve": transition_view(
        "approve", lifecycle.campaign_approve,
        "Approve (a signed-in reviewer or manager who is not the author)."),
    "reject": transition_view("reject", lifecycle.campaign_reject,
                              "Send a campaign in review back to draft."),
    "schedule": transition_view(
        "schedule", lifecycle.campaign_schedule,
        "Schedule an approved campaign; refused with the launch-gate problems."),
    "pause": transition_view("pause", lifecycle.campaign_pause, "Pause a running campaign."),
    "resume": transition_view("resume", lifecycle.campaign_resume, "Resume a paused campaign."),
    "complete": transition_view("complete", lifecycle.campaign_complete,
                                "Complete a running or paused campaign."),
    "cancel": transition_view("cancel", lifecycle.campaign_cancel, "Cancel a campaign."),
}


class LaunchProblemsView(CampaignsBase):
    """What stops the campaign from being scheduled (the launch gate), each problem named."""

    @extend_schema(operation_id="campaigns_launch_problems", parameters=[CAMPAIGN_ID],
                   responses={200: LaunchProblemsOutput, **READ_ERRORS})
    def get(self, request: Request, pk: str) -> Response:
        campaign = self.owned_campaign(pk)
        return Response({"status": campaign.status,
                         "problems": launch.launch_problems(campaign)})


# --- flights, arms, schedules -------------------------------------------------------------

class FlightListView(CampaignsBase):
    serializer_class = FlightOutput

    @extend_schema(operation_id="campaign_flights_list", parameters=[CAMPAIGN_ID],
                   responses={200: FlightOutput(many=True), **READ_ERRORS})
    def get(self, request: Request, pk: str) -> Response:
        flights = self.campaign(pk).flights.order_by("starts_at", "pk")
        page = self.paginate_queryset(flights)
        return self.get_paginated_response(FlightOutput(page, many=True).data)

    @extend_schema(operation_id="campaign_flights_create", parameters=[CAMPAIGN_ID],
                   request=FlightInput, responses={201: FlightOutput, **WRITE_ERRORS})
    def post(self, request: Request, pk: str) -> Response:
        campaign = self.owned_campaign(pk)
        flight = authoring.flight_create(campaign=campaign, actor=request_actor(request),
                                        **validated(FlightInput, request.data))
        return Response(FlightOutput(flight).data, status=201)


class FlightDetailView(CampaignsBase):
    serializer_class = FlightOutput

    @extend_schema(operation_id="campaign_flights_destroy",
                   parameters=[CAMPAIGN_ID, id_parameter("flight_id", "flight")],
                   responses={204: None, **WRITE_ERRORS})
    def delete(self, request: Request, pk: str, flight_id: str) -> Response:
        campaign = self.owned_campaign(pk)
        flight = self.child(Flight.objects.filter(campaign=campaign), flight_id)
        authoring.flight_delete(flight=flight, actor=request_actor(request))
        return Response(status=204)


def arm_output(campaign: Campaign, arms: list[Arm], *, many: bool) -> Any:
    total = sum((arm.weight for arm in campaign.arms.all()), Decimal(0))
    data = arms if many else arms[0]
    return ArmOutput(data, many=many, context={"total_weight": total}).data


def arm_fields(campaign: Campaign, data: dict) -> dict:
    if "messages" in data:
        ids = set(data["messages"])
        messages = list(Message.objects.filter(organisation=campaign.organisation, pk__in=ids))
        if len(messages) != len(ids):
            raise InvalidInput("Unknown message id(s).", field="messages")
        data["messages"] = messages
    return data


class ArmListView(CampaignsBase):
    """The campaign's arms: variants, an active comparator, a holdout (no message)."""

    serializer_class = ArmOutput

    @extend_schema(operation_id="campaign_arms_list", parameters=[CAMPAIGN_ID],
                   responses={200: ArmOutput(many=True), **READ_ERRORS})
    def get(self, request: Request, pk: str) -> Response:
        campaign = self.campaign(pk)
        arms = selectors.arms_of(campaign)
        page = self.paginate_queryset(arms)
        return self.get_paginated_response(arm_output(campaign, page, many=True))

    @extend_schema(operation_id="campaign_arms_create", parameters=[CAMPAIGN_ID],
                   request=ArmInput, responses={201: ArmOutput, **WRITE_ERRORS},
                   examples=[OpenApiExample("A 10% holdout", request_only=True,
                                            value={"name": "holdout", "kind": "holdout",
                                                   "weight": "10"})])
    def post(self, request: Request, pk: str) -> Response:
        campaign = self.owned_campaign(pk)
        data = arm_fields(campaign, validated(ArmInput, request.data))
        arm = authoring.arm_save(campaign=campaign, actor=request_actor(request), **data)
        return Response(arm_output(campaign, [arm], many=False), status=201)


class ArmDetailView(CampaignsBase):
    serializer_class = ArmOutput
    parameters = [CAMPAIGN_ID, id_parameter("arm_id", "arm")]

    @extend_schema(operation_id="campaign_arms_retrieve", parameters=parameters,
                   responses={200: ArmOutput, **READ_ERRORS})
    def get(self, request: Request, pk: str, arm_id: str) -> Response:
        campaign = self.campaign(pk)
        arm = self.child(selectors.arms_of(campaign), arm_id)
        return Response(arm_output(campaign, [arm], many=False))

    @extend_schema(operation_id="campaign_arms_partial_update", parameters=parameters,
                   request=ArmInput, responses={200: ArmOutput, **WRITE_ERRORS})
    def patch(self, request: Request, pk: str, arm_id: str) -> Response:
        campaign = self.owned_campaign(pk)
        arm = self.child(selectors.arms_of(campaign), arm_id)
        data = arm_fields(campaign, validated(ArmInput, request.data, partial=True))
        fields = {"name": arm.name, "kind": arm.kind, "weight": arm.weight,
                  "messages": list(arm.messages.all()), **data}
        arm = authoring.arm_save(campaign=campaign, actor=request_actor(request), arm=arm,
                                **fields)
        return Response(arm_output(campaign, [arm], many=False))

    @extend_schema(operation_id="campaign_arms_destroy", parameters=parameters,
                   responses={204: None, **WRITE_ERRORS})
    def delete(self, request: Request, pk: str, arm_id: str) -> Response:
        campaign = self.owned_campaign(pk)
        arm = self.child(selectors.arms_of(campaign), arm_id)
        authoring.arm_delete(arm=arm, actor=request_actor(request))
        return Response(status=204)


class ScheduleListView(CampaignsBase):
    """When scheduled messages go out: once, recurring, or relative to a recipient date."""

    serializer_class = ScheduleOutput

    @extend_schema(operation_id="campaign_schedules_list", parameters=[CAMPAIGN_ID],
                   responses={200: ScheduleOutput(many=True), **READ_ERRORS})
    def get(self, request: Request, pk: str) -> Response:
        page = self.paginate_queryset(selectors.schedules_of(self.campaign(pk)))
        return self.get_paginated_response(ScheduleOutput(page, many=True).data)

    @extend_schema(
        operation_id="campaign_schedules_create", parameters=[CAMPAIGN_ID],
        request=ScheduleInput, responses={201: ScheduleOutput, **WRITE_ERRORS},
        examples=[OpenApiExample("7 days after release at 10:00, weekdays 9-18",
                                 request_only=True,
                                 value={"kind": "relative", "channel": "email",
                                        "relative_attribute": "release_date", "offset_days": 7,
                                        "time_of_day": "10:00", "window_start": "09:00",
                                        "window_end": "18:00",
                                        "window_weekdays": [1, 2, 3, 4, 5]})])
    def post(self, request: Request, pk: str) -> Response:
        campaign = self.owned_campaign(pk)
        schedule = authoring.schedule_save(campaign=campaign, actor=request_actor(request),
                                          **validated(ScheduleInput, request.data))
        return Response(ScheduleOutput(schedule).data, status=201)


class ScheduleDetailView(CampaignsBase):
    serializer_class = ScheduleOutput
    parameters = [CAMPAIGN_ID, id_parameter("schedule_id", "schedule")]

    @extend_schema(operation_id="campaign_schedules_retrieve", parameters=parameters,
                   responses={200: ScheduleOutput, **READ_ERRORS})
    def get(self, request: Request, pk: str, schedule_id: str) -> Response:
        schedule = self.child(selectors.schedules_of(self.campaign(pk)), schedule_id)
        return Response(ScheduleOutput(schedule).data)

    @extend_schema(operation_id="campaign_schedules_partial_update", parameters=parameters,
                   request=ScheduleInput, responses={200: ScheduleOutput, **WRITE_ERRORS})
    def patch(self, request: Request, pk: str, schedule_id: str) -> Response:
        campaign = self.owned_campaign(pk)
        schedule = self.child(Schedule.objects.filter(campaign=campaign), schedule_id)
        data = validated(ScheduleInput, request.data, partial=True)
        schedule = authoring.schedule_save(campaign=campaign, actor=request_actor(request),
                                          schedule=schedule, **data)
        return Response(ScheduleOutput(schedule).data)

    @extend_schema(operation_id="campaign_schedules_destroy", parameters=parameters,
                   responses={204: None, **WRITE_ERRORS})
    def delete(self, request: Request, pk: str, schedule_id: str) -> Response:
        campaign = self.owned_campaign(pk)
        schedule = self.child(Schedule.objects.filter(campaign=campaign), schedule_id)
        authoring.schedule_delete(schedule=schedule, actor=request_actor(request))
        return Response(status=204)


# --- messages ---------------------------------------------------------------------------------

MESSAGE_ID = id_parameter("pk", "message")
MESSAGE_EXAMPLE = {
    "name": "Help is available (UK)", "channel": "email", "language": "en",
    "framing": "help_therapeutic", "polarity": "supportive",
    "subject": "Confidential help is available",
    "body": "<p>Worried about your thoughts? Stop It Now offers confidential help.</p>"
            '<p><a href="{{ help_link }}">Talk to someone</a></p>',
}


class MessagesBase(CampaignsBase):
    serializer_class = MessageOutput
    queryset = Message.objects.none()

    def message(self, pk: str) -> Message:
        message = selectors.message_get(organisation=self.organisation, pk=parse_id(pk))
        if message is None:
            raise Http404
        return message


class MessageListView(MessagesBase):
    """Your message library: per channel and language, with a framing and polarity."""

    @extend_schema(operation_id="messages_list",
                   responses={200: MessageOutput(many=True), **READ_ERRORS})
    def get(self, request: Request) -> Response:
        messages = selectors.messages_visible_to(self.organisation).order_by("name", "pk")
        page = self.paginate_queryset(messages)
        return self.get_paginated_response(MessageOutput(page, many=True).data)

    @extend_schema(operation_id="messages_create", request=MessageInput,
                   responses={201: MessageOutput, **WRITE_ERRORS},
                   examples=[OpenApiExample("A supportive email", value=MESSAGE_EXAMPLE,
                                            request_only=True)])
    def post(self, request: Request) -> Response:
        message = authoring.message_create(organisation=self.organisation,
                                           actor=request_actor(request),
                                           **validated(MessageInput, request.data))
        return Response(MessageOutput(message).data, status=201)


class MessageDetailView(MessagesBase):
    @extend_schema(operation_id="messages_retrieve", parameters=[MESSAGE_ID],
                   responses={200: MessageOutput, **READ_ERRORS})
    def get(self, request: Request, pk: str) -> Response:
        return Response(MessageOutput(self.message(pk)).data)

    @extend_schema(operation_id="messages_partial_update", parameters=[MESSAGE_ID],
                   request=MessageInput, responses={200: MessageOutput, **WRITE_ERRORS})
    def patch(self, request: Request, pk: str) -> Response:
        message = authoring.message_update(
            message=self.message(pk), actor=request_actor(request),
            **validated(MessageInput, request.data, partial=True))
        return Response(MessageOutput(message).data)

    @extend_schema(operation_id="messages_destroy", parameters=[MESSAGE_ID],
                   responses={204: None, **WRITE_ERRORS})
    def delete(self, request: Request, pk: str) -> Response:
        authoring.message_delete(message=self.message(pk), actor=request_actor(request))
        return Response(status=204)


class MessagePreviewView(MessagesBase):
    """Render a message for a sample recipient: subject, HTML, plain text, SMS segments.

    Without a `context`, the help resources and legal notice come from your directory for the
    country, the message's language and the stage (links are shown unsigned in a preview).
    """

    read_scope = ApiScope.CAMPAIGNS_READ
    write_scope = ApiScope.CAMPAIGNS_READ  # a preview changes nothing

    @extend_schema(operation_id="messages_preview", parameters=[MESSAGE_ID],
                   request=PreviewInput, responses={200: PreviewOutput, **WRITE_ERRORS})
    def post(self, request: Request, pk: str) -> Response:
        message = self.message(pk)
        data = validated(PreviewInput, request.data)
        if data.get("context") is not None:
            context = RenderContext(language=message.language, country=data["country"],
                                    **data["context"])
        else:
            context = build_preview_context(organisation=self.organisation,
                                            country=data["country"],
                                            language=message.language, stage=data["stage"])
        try:
            rendered = render_message(message=message, context=context)
        except RenderError as error:
            raise InvalidInput(str(error), field="body") from error
        return Response(PreviewOutput({**rendered.__dict__,
                                       "help_resources": context.help_resources}).data)
