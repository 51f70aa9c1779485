"""Thin views: check the input shape, call a service, shape the answer."""

from __future__ import annotations

from dataclasses import asdict

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from interventions.aggregates import AggregateRow, daily_aggregates_report
from interventions.api import serializers as s
from interventions.api.authentication import remembering_authenticators
from interventions.api.inputs import intervention_context_parse
from interventions.api.parsers import LimitedJSONParser, NDJSONParser
from interventions.api.throttling import PartnerRateThrottle
from interventions.outcome_batches import outcomes_batch_ingest
from interventions.outcomes import MAX_BATCH_BYTES, outcome_report
from interventions.services import HelpLink, InterventionResult, intervention_request
from organisations.api.authentication import ApiKeyAuthentication, ApiKeyOnly
from organisations.api.principal import caller_api_key, caller_organisation
from organisations.models import ApiScope
from organisations.services import Actor

ERRORS = {
    400: OpenApiResponse(description="A field is invalid; the body names it."),
    401: OpenApiResponse(description="No or an invalid API key."),
    403: OpenApiResponse(description="The key lacks the scope."),
    413: OpenApiResponse(description="The body is too large."),
    415: OpenApiResponse(description="Unsupported content type."),
    429: OpenApiResponse(description="Over your request budget; retry after Retry-After."),
}

SHOWN_EXAMPLE = {
    "show": True, "reason": "shown",
    "intervention_id": "0b6f2c1e-5d6a-4e8e-9a43-2f1c7d9e8b10", "referral_code": "K7PQ2M",
    "message": {
        "title": "This search may be illegal",
        "text": "Viewing sexual images of children is a crime. Confidential help is "
                "available.",
        "html": "<p>Viewing sexual images of children is a crime. Confidential help is "
                "available.</p>",
        "language": "en"},
    "help_resources": [{
        "id": 12, "name": "Stop It Now! UK and Ireland helpline",
        "organisation": "The Lucy Faithfull Foundation", "kind": "helpline",
        "description": "Confidential advice for people worried about their thoughts.",
        "url": "https://outreach.example/go/eyJlIjoi…", "phone": "+448081000900",
        "open_now": True, "language_fallback": False}],
    "legal_notice": {"jurisdiction": "GB-ENG", "statutes": [{
        "name": "Protection of Children Act 1978", "section": "s.1",
        "summary": "Taking, making, distributing or possessing indecent images of children.",
        "max_penalty": "10 years' imprisonment"}]},
}


def intervention_answer(result: InterventionResult) -> dict:
    """The JSON answer (shared with the demo page's same-origin proxy)."""
    message = result.message
    return {
        "show": result.show, "reason": result.reason,
        "intervention_id": str(result.intervention_id) if result.intervention_id else None,
        "referral_code": result.referral_code,
        "message": {"title": message.title, "text": message.text, "html": message.html,
                    "language": message.language} if message else None,
        "help_resources": [_link_data(link) for link in result.help_resources],
        "legal_notice": result.legal_notice,
    }


def _link_data(link: HelpLink) -> dict:
    # By hand rather than dataclasses.asdict, which deep-copies: this is the hot path.
    return {"id": link.id, "name": link.name, "organisation": link.organisation,
            "kind": link.kind, "description": link.description, "url": link.url,
            "phone": link.phone, "open_now": link.open_now,
            "language_fallback": link.language_fallback}


class InterventionView(ApiKeyOnly, APIView):
    """Ask what to show a person who triggered one of your platform's rules."""

    write_scope = ApiScope.INTERVENTIONS_WRITE
    throttle_classes = [PartnerRateThrottle]
    parser_classes = [LimitedJSONParser]
    max_body_bytes = 16 * 1024

    renderer_classes = [JSONRenderer]
    # Stateless, so made once rather than on every request (DRF's default): the API-key
    # authenticator with its short memory, the parser and the renderer.
    _authenticators = tuple(remembering_authenticators([ApiKeyAuthentication]))
    _parsers = (LimitedJSONParser(),)
    _renderer = JSONRenderer()

    def get_authenticators(self) -> list:
        return list(self._authenticators)

    def get_parsers(self) -> list:
        return list(self._parsers)

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple:
        # One representation only: no need to parse the Accept header on the hot path.
        return self._renderer, self._renderer.media_type

    @extend_schema(
        operation_id="interventions_create", request=s.InterventionIn,
        responses={200: s.InterventionOut, **ERRORS},
        description=(
            "Send the context of a trigger (never the search text); get back the message to "
            "show, the help to signpost and the law, with signed help links. The session id is "
            "pseudonymised on arrival. The exposure is committed before the answer is sent: "
            "quote `intervention_id` when you report outcomes. `show: false` means show "
            "nothing; `reason` says why. Call this from your server, not from a browser."),
        examples=[
            OpenApiExample("Request", request_only=True, value={
                "trigger": "search_blocked_term", "country": "GB", "language": "en-GB",
                "session_id": "a1b2c3d4e5", "platform": "web",
                "attributes": {"age_band": "18-24", "surface": "search"}}),
            OpenApiExample("Shown", response_only=True, value=SHOWN_EXAMPLE),
            OpenApiExample("Holdout", response_only=True, value={
                "show": False, "reason": "holdout",
                "intervention_id": "5d0c3b7a-1f0e-4b7c-8a1e-6f4b2a9c0d21",
                "referral_code": "K7PQ2M", "message": None, "help_resources": [],
                "legal_notice": None}),
            OpenApiExample("Nothing matches", response_only=True, value={
                "show": False, "reason": "no_match", "intervention_id": None,
                "referral_code": "", "message": None, "help_resources": [],
                "legal_notice": None}),
        ])
    def post(self, request: Request) -> Response:
        context = intervention_context_parse(request.data)
        result = intervention_request(partner=caller_organisation(request), context=context)
        # The bytes DRF's Response would render (the same renderer), without its template-
        # response machinery; errors still go through DRF's exception handler.
        return HttpResponse(self._renderer.render(intervention_answer(result)),
                            content_type=self._renderer.media_type)


class OutcomeView(ApiKeyOnly, APIView):
    """Report one outcome of an intervention, or a helpline contact quoting a referral code."""

    write_scope = ApiScope.OUTCOMES_WRITE
    parser_classes = [LimitedJSONParser]
    max_body_bytes = 16 * 1024

    @extend_schema(
        operation_id="outcomes_create", request=s.OutcomeIn,
        responses={201: s.OutcomeOut, 200: s.OutcomeOut, **ERRORS},
        description=(
            "Reference `intervention_id` (from an intervention answer your platform received) "
            "or a campaign `referral_code` (helplines: \"how did you hear of us?\"). A replayed "
            "`idempotency_key` answers 200 with `duplicate: true` and counts once. An id you "
            "cannot report on is answered exactly like an unknown one."),
        examples=[
            OpenApiExample("Click reported by a partner", request_only=True, value={
                "kind": "chatbot_engaged", "idempotency_key": "evt-000123",
                "intervention_id": "0b6f2c1e-5d6a-4e8e-9a43-2f1c7d9e8b10"}),
            OpenApiExample("Helpline contact", request_only=True, value={
                "kind": "helpline_contact", "idempotency_key": "call-2026-11-24-17",
                "referral_code": "K7PQ2M", "occurred_at": "2026-11-24T18:05:00Z"}),
        ])
    def post(self, request: Request) -> Response:
        receipt = outcome_report(reporter=caller_organisation(request), raw=request.data)
        code = status.HTTP_200_OK if receipt.duplicate else status.HTTP_201_CREATED
        return Response({"id": receipt.outcome.pk, "duplicate": receipt.duplicate}, status=code)


class OutcomeBatchView(ApiKeyOnly, APIView):
    """Upload outcome events as NDJSON (one event per line, at most 10,000)."""

    write_scope = ApiScope.OUTCOMES_WRITE
    parser_classes = [NDJSONParser]
    max_body_bytes = MAX_BATCH_BYTES

    @extend_schema(
        operation_id="outcomes_batch", request={"application/x-ndjson": OpenApiTypes.STR},
        responses={200: s.BatchOut, **ERRORS},
        description=(
            "`Content-Type: application/x-ndjson`, one event object per line (the fields of "
            "POST /outcomes). Valid lines are stored; invalid lines are skipped and reported "
            "with their 1-based line number; replayed keys are counted as duplicates, never "
            "twice. More than 10,000 events or 8 MiB: 413, nothing stored."),
        examples=[OpenApiExample("Summary", response_only=True, value={
            "received": 3, "accepted": 1, "duplicates": 1, "rejected": 1,
            "errors": [{"line": 2, "errors": {"kind": ["Use one of: …"]}}],
            "errors_truncated": False})])
    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, bytes) else b""
        report = outcomes_batch_ingest(reporter=caller_organisation(request), body=body,
                                       actor=Actor(api_key=caller_api_key(request)))
        return Response(asdict(report))


class OutcomeAggregatesView(ApiKeyOnly, APIView):
    """Daily counts from helplines (contacts by referral source), for population-level work."""

    write_scope = ApiScope.OUTCOMES_WRITE
    parser_classes = [LimitedJSONParser]
    max_body_bytes = 512 * 1024

    @extend_schema(
        operation_id="outcomes_aggregates", request=s.AggregatesIn,
        responses={200: s.AggregatesOut, **ERRORS},
        description=(
            "Up to 1,000 rows. A row for a (day, kind, referral_source) you reported before "
            "replaces the earlier count (re-sending a day is safe). A source equal to a "
            "campaign referral code links the row to that campaign."),
        examples=[OpenApiExample("Helpline day", request_only=True, value={"rows": [
            {"day": "2026-11-23", "kind": "helpline_contact", "referral_source": "K7PQ2M",
             "count": 4},
            {"day": "2026-11-23", "kind": "helpline_contact", "referral_source": "unknown",
             "count": 31}]})])
    def post(self, request: Request) -> Response:
        data = s.AggregatesIn(data=request.data)
        data.is_valid(raise_exception=True)
        rows = [AggregateRow(**row) for row in data.validated_data["rows"]]
        report = daily_aggregates_report(reporter=caller_organisation(request), rows=rows,
                                         actor=Actor(api_key=caller_api_key(request)))
        return Response(asdict(report))
