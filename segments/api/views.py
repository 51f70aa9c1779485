"""Thin API views: check the shape, call a selector or a service, shape the answer."""

from __future__ import annotations

import hashlib
import hmac

from django.db import transaction
from django.http import Http404, QueryDict
from django.utils import timezone
from django.utils.crypto import salted_hmac
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, UnsupportedMediaType, ValidationError
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.edge import CheckedJSONParser, CheckedMultiPartParser
from core.errors import InvalidInput, PayloadTooLarge
from organisations.api.principal import caller_api_key, caller_organisation
from organisations.models import ApiScope, Organisation
from organisations.services import Actor
from segments import recipients, selectors, services
from segments.api import serializers as s
from segments.rules import RuleError
from segments.targeting import rule_parse


def actor_of(request: Request) -> Actor:
    api_key = caller_api_key(request)
    if api_key is not None:
        return Actor(api_key=api_key)
    return Actor(user=request.user)


def valid(serializer_class: type, request: Request, **kwargs: object) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# ---- segments ---------------------------------------------------------------------------------


class SegmentListView(generics.ListAPIView):
    """The organisation's segments; POST creates one (a rule that does not parse is a 400)."""

    read_scope = ApiScope.SEGMENTS_READ
    write_scope = ApiScope.SEGMENTS_WRITE
    serializer_class = s.SegmentOutput

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.segment_list(organisation=caller_organisation(self.request))

    @extend_schema(request=s.SegmentInput, responses={201: s.SegmentOutput},
                   operation_id="segments_create", examples=[OpenApiExample(
                       "Adults in the UK", request_only=True, value={
                           "name": "Adults in the UK", "stage": "at_risk",
                           "rule": 'country = "GB" and age >= 18'})])
    def post(self, request: Request) -> Response:
        data = valid(s.SegmentInput, request)
        segment = services.segment_create(organisation=caller_organisation(request),
                                          actor=actor_of(request), **data)
        return Response(s.SegmentOutput(segment).data, status=status.HTTP_201_CREATED)


class SegmentDetailView(APIView):
    read_scope = ApiScope.SEGMENTS_READ
    write_scope = ApiScope.SEGMENTS_WRITE

    def segment(self, request: Request, pk: int):  # type: ignore[no-untyped-def]
        return selectors.segment_get(organisation=caller_organisation(request), pk=pk)

    @extend_schema(responses=s.SegmentOutput, operation_id="segments_retrieve")
    def get(self, request: Request, pk: int) -> Response:
        return Response(s.SegmentOutput(self.segment(request, pk)).data)

    @extend_schema(request=s.SegmentInput(partial=True), responses=s.SegmentOutput,
                   operation_id="segments_update")
    def patch(self, request: Request, pk: int) -> Response:
        segment = self.segment(request, pk)
        data = valid(s.SegmentInput, request, partial=True)
        segment = services.segment_update(segment=segment, actor=actor_of(request), **data)
        return Response(s.SegmentOutput(segment).data)

    @extend_schema(responses={204: None}, operation_id="segments_destroy")
    def delete(self, request: Request, pk: int) -> Response:
        services.segment_delete(segment=self.segment(request, pk), actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


def rule_validation(text: str, *, organisation: Organisation) -> dict:
    """The answer of /segments/validate, shared with the admin's live validation."""
    try:
        rule = rule_parse(text, organisation=organisation)
    except RuleError as error:
        return {"valid": False, "fields": [], "normalised": None,
                "error": {"message": str(error), "line": error.line, "column": error.column}}
    return {"valid": True, "fields": list(rule.fields), "normalised": rule.text, "error": None}


class SegmentValidateView(APIView):
    """Parse a rule against this organisation's fields: the error with its position, or the
    fields it uses. Always 200 for a well-formed request: an invalid rule is an answer."""

    read_scope = ApiScope.SEGMENTS_READ

    @extend_schema(request=s.SegmentRuleInput, responses=s.SegmentRuleValidation,
                   operation_id="segments_validate", examples=[
                       OpenApiExample("A rule", request_only=True,
                                      value={"rule": 'country in ("GB", "IE") and age >= 18'})])
    def post(self, request: Request) -> Response:
        data = valid(s.SegmentRuleInput, request)
        result = rule_validation(data["rule"], organisation=caller_organisation(request))
        return Response(s.SegmentRuleValidation(result).data)


def preview_data(preview: selectors.SegmentPreview) -> dict:
    return {"count": preview.count.value, "count_display": preview.count.display,
            "suppressed": preview.count.suppressed, "samples": preview.samples}


class SegmentPreviewView(APIView):
    """How many stored recipients the segment selects now (disclosure-controlled)."""

    read_scope = ApiScope.SEGMENTS_READ

    @extend_schema(responses=s.SegmentPreviewOutput, operation_id="segments_preview")
    def get(self, request: Request, pk: int) -> Response:
        segment = selectors.segment_get(organisation=caller_organisation(request), pk=pk)
        try:
            preview = selectors.segment_preview(segment=segment, now=timezone.now())
        except RuleError as error:
            raise InvalidInput(f"the segment's rule is invalid: {error}", field="rule") from None
        return Response(s.SegmentPreviewOutput(preview_data(preview)).data)


# ---- custom attributes ------------------------------------------------------------------------


class AttributeListView(generics.ListAPIView):
    """Custom recipient attributes that rules may use; POST declares one."""

    read_scope = ApiScope.SEGMENTS_READ
    write_scope = ApiScope.SEGMENTS_WRITE
    serializer_class = s.CustomAttributeOutput

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.custom_attribute_list(organisation=caller_organisation(self.request))

    @extend_schema(request=s.CustomAttributeInput, responses={201: s.CustomAttributeOutput},
                   operation_id="attributes_create")
    def post(self, request: Request) -> Response:
        data = valid(s.CustomAttributeInput, request)
        attribute = services.custom_attribute_create(
            organisation=caller_organisation(request), actor=actor_of(request), **data)
        return Response(s.CustomAttributeOutput(attribute).data, status=status.HTTP_201_CREATED)


class AttributeDetailView(APIView):
    read_scope = ApiScope.SEGMENTS_READ
    write_scope = ApiScope.SEGMENTS_WRITE

    @extend_schema(responses=s.CustomAttributeOutput, operation_id="attributes_retrieve")
    def get(self, request: Request, pk: int) -> Response:
        attribute = selectors.custom_attribute_get(organisation=caller_organisation(request),
                                                   pk=pk)
        return Response(s.CustomAttributeOutput(attribute).data)

    @extend_schema(responses={204: None}, operation_id="attributes_destroy")
    def delete(self, request: Request, pk: int) -> Response:
        attribute = selectors.custom_attribute_get(organisation=caller_organisation(request),
                                                   pk=pk)
        services.custom_attribute_delete(attribute=attribute, actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---- recipients -------------------------------------------------------------------------------


class RecipientListView(generics.ListAPIView):
    """Recipients (no contact details); POST upserts one by reference."""

    read_scope = ApiScope.RECIPIENTS_READ
    write_scope = ApiScope.RECIPIENTS_WRITE
    serializer_class = s.RecipientOutput

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.recipient_list(
            organisation=caller_organisation(self.request)).prefetch_related("contact_points")

    @extend_schema(request=s.RecipientInput, responses={200: s.RecipientOutput,
                                                        201: s.RecipientOutput},
                   operation_id="recipients_upsert", examples=[OpenApiExample(
                       "A probation client", request_only=True, value={
                           "reference": "PRB-2026-0042", "stage": "offender", "country": "GB",
                           "language": "en", "time_zone": "Europe/London", "age": 41,
                           "attributes": {"release_date": "2026-11-18"},
                           "email": "client@example.org", "consent_basis": "public_task",
                           "consent_source": "probation induction"})])
    def post(self, request: Request) -> Response:
        data = valid(s.RecipientInput, request)
        recipient, created = recipients.recipient_upsert(
            organisation=caller_organisation(request), data=data, actor=actor_of(request))
        answer = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(s.RecipientOutput(recipient).data, status=answer)


class RecipientDetailView(APIView):
    read_scope = ApiScope.RECIPIENTS_READ

    @extend_schema(responses=s.RecipientOutput, operation_id="recipients_retrieve")
    def get(self, request: Request, pk: int) -> Response:
        recipient = selectors.recipient_get(organisation=caller_organisation(request), pk=pk)
        return Response(s.RecipientOutput(recipient).data)


class RecipientLookupView(APIView):
    """Find a recipient by the partner's reference (sent in the body, never in a URL)."""

    read_scope = ApiScope.RECIPIENTS_READ

    @extend_schema(request=s.RecipientLookupInput,
                   responses={200: s.RecipientOutput, 404: OpenApiResponse(
                       description="No recipient with this reference.")},
                   operation_id="recipients_lookup")
    def post(self, request: Request) -> Response:
        data = valid(s.RecipientLookupInput, request)
        recipient = selectors.recipient_find(organisation=caller_organisation(request),
                                             reference=data["reference"])
        if recipient is None:
            return Response({"detail": "No recipient with this reference."},
                            status=status.HTTP_404_NOT_FOUND)
        return Response(s.RecipientOutput(recipient).data)


class RecipientEraseView(APIView):
    """Erase a recipient: contact details crypto-shredded, the pseudonymous row kept."""

    write_scope = ApiScope.RECIPIENTS_WRITE

    @extend_schema(request=None, responses=s.RecipientOutput, operation_id="recipients_erase")
    def post(self, request: Request, pk: int) -> Response:
        recipient = selectors.recipient_get(organisation=caller_organisation(request), pk=pk)
        recipient = recipients.recipient_erase(recipient=recipient, actor=actor_of(request))
        return Response(s.RecipientOutput(recipient).data)


class RecipientExportView(APIView):
    """Everything held about a recipient, contact details decrypted (subject access)."""

    read_scope = ApiScope.RECIPIENTS_READ

    @extend_schema(responses=s.RecipientExport, operation_id="recipients_export")
    def get(self, request: Request, pk: int) -> Response:
        recipient = selectors.recipient_get(organisation=caller_organisation(request), pk=pk)
        return Response(s.RecipientExport(selectors.recipient_export(recipient=recipient)).data)


class RawUploadParser(BaseParser):
    """A CSV or NDJSON body as bytes; services decode it (and report bad encodings by line)."""

    def parse(self, stream, media_type=None, parser_context=None):  # type: ignore[no-untyped-def]
        return {"content": stream.read() if stream else b""}


class CsvParser(RawUploadParser):
    media_type = "text/csv"


class NdjsonParser(RawUploadParser):
    media_type = "application/x-ndjson"


class RecipientImportView(APIView):
    """Bulk upsert: a CSV or NDJSON file (multipart `file`, or the raw body), or JSON
    `{"recipients": [...]}`. Valid rows are written, invalid ones listed with row, field and
    problem (partial success). The file itself is never stored."""

    write_scope = ApiScope.RECIPIENTS_WRITE
    parser_classes = [CheckedMultiPartParser, CheckedJSONParser, CsvParser, NdjsonParser]

    @extend_schema(
        request={"multipart/form-data": s.RecipientImportUpload,
                 "application/json": s.RecipientImportJson,
                 "text/csv": OpenApiTypes.STR, "application/x-ndjson": OpenApiTypes.STR},
        responses={200: s.RecipientImportReport}, operation_id="recipients_import")
    def post(self, request: Request) -> Response:
        organisation, actor = caller_organisation(request), actor_of(request)
        if request.content_type.startswith("application/json"):
            data = valid(s.RecipientImportJson, request)
            report = recipients.recipients_import(organisation=organisation,
                                                rows=data["recipients"], actor=actor)
        else:
            content, format = self.upload(request)
            report = recipients.recipients_import_file(organisation=organisation, content=content,
                                                     format=format, actor=actor)
        body = {"created": report.created, "updated": report.updated,
                "rejected_rows": report.rejected_rows, "rejected": report.rejected}
        return Response(s.RecipientImportReport(body).data)

    def upload(self, request: Request) -> tuple[bytes, str]:
        if request.content_type.startswith("multipart/"):
            data = valid(s.RecipientImportUpload, request)
            upload = data["file"]
            if upload.size > recipients.import_max_bytes():
                raise PayloadTooLarge(f"the file is larger than {recipients.import_max_bytes()} "
                                      "bytes; split it")
            name = (upload.name or "").lower()
            inferred = "ndjson" if name.endswith((".ndjson", ".jsonl")) else "csv"
            return upload.read(), data.get("format") or inferred
        content = request.data.get("content") if isinstance(request.data, dict) else None
        if not isinstance(content, bytes):
            raise UnsupportedMediaType(request.content_type or "none")
        format = "ndjson" if request.content_type.startswith("application/x-ndjson") else "csv"
        return content, format


# ---- suppressions -----------------------------------------------------------------------------


class SuppressionListView(generics.ListAPIView):
    """Do-not-contact entries per channel; POST adds one (idempotent: 200 if it existed)."""

    read_scope = ApiScope.RECIPIENTS_READ
    write_scope = ApiScope.RECIPIENTS_WRITE
    serializer_class = s.SuppressionOutput

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.suppression_list(organisation=caller_organisation(self.request))

    @extend_schema(request=s.SuppressionInput, responses={200: s.SuppressionOutput,
                                                          201: s.SuppressionOutput},
                   operation_id="suppressions_create")
    def post(self, request: Request) -> Response:
        data = valid(s.SuppressionInput, request)
        organisation = caller_organisation(request)
        recipient = None
        if "recipient" in data:  # a body field: an unknown id is a 400 naming it
            try:
                recipient = selectors.recipient_get(organisation=organisation,
                                                    pk=data["recipient"])
            except Http404:
                raise InvalidInput("Unknown recipient id.", field="recipient") from None
        suppression, created = services.suppression_add(
            organisation=organisation, channel=data["channel"], reason=data["reason"],
            value=data.get("value"), recipient=recipient, note=data["note"],
            actor=actor_of(request))
        answer = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(s.SuppressionOutput(suppression).data, status=answer)


class SuppressionDetailView(APIView):
    read_scope = ApiScope.RECIPIENTS_READ
    write_scope = ApiScope.RECIPIENTS_WRITE

    @extend_schema(responses=s.SuppressionOutput, operation_id="suppressions_retrieve")
    def get(self, request: Request, pk: int) -> Response:
        suppression = selectors.suppression_get(organisation=caller_organisation(request), pk=pk)
        return Response(s.SuppressionOutput(suppression).data)

    @extend_schema(responses={204: None}, operation_id="suppressions_destroy")
    def delete(self, request: Request, pk: int) -> Response:
        suppression = selectors.suppression_get(organisation=caller_organisation(request), pk=pk)
        services.suppression_remove(suppression=suppression, actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---- inbound SMS ------------------------------------------------------------------------------

SIGNATURE_HEADER = "X-Outreach-Signature"
ORGANISATION_HEADER = "X-Outreach-Organisation"


def sms_webhook_secret(organisation: Organisation) -> str:
    """The organisation's inbound-SMS signing secret (derived from SECRET_KEY; shown in the
    organisation's admin page for the SMS gateway's configuration)."""
    return salted_hmac("segments.sms-inbound", str(organisation.pk)).hexdigest()


def sms_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SmsInboundView(APIView):
    """Inbound SMS from the gateway (Twilio-style form fields From and Body).

    Authenticated by an HMAC, not an API key: `X-Outreach-Organisation: <slug>` and
    `X-Outreach-Signature: sha256=<hex HMAC-SHA256 of the raw body under the organisation's
    inbound secret>`. A stop word (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT) suppresses
    the sender's number for SMS.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []

    @extend_schema(request={"application/x-www-form-urlencoded": s.SmsInboundForm},
                   responses={200: s.SmsInboundResult, 403: OpenApiResponse(
                       description="Missing or wrong signature, or an unknown organisation "
                       "(the same answer).")},
                   auth=[], operation_id="sms_inbound",
                   parameters=[
                       OpenApiParameter(ORGANISATION_HEADER, str, OpenApiParameter.HEADER,
                                        required=True),
                       OpenApiParameter(SIGNATURE_HEADER, str, OpenApiParameter.HEADER,
                                        required=True)])
    def post(self, request: Request) -> Response:
        body = request.body
        organisation = self.signed_organisation(request, body)
        form = s.SmsInboundForm(data=QueryDict(body, encoding="utf-8"))
        if not form.is_valid():
            raise ValidationError(form.errors)
        with transaction.atomic():
            suppressed = services.sms_inbound(organisation=organisation,
                                              sender=form.validated_data["From"],
                                              body=form.validated_data["Body"])
        return Response(s.SmsInboundResult({"suppressed": suppressed}).data)

    def signed_organisation(self, request: Request, body: bytes) -> Organisation:
        slug = request.headers.get(ORGANISATION_HEADER, "")
        given = request.headers.get(SIGNATURE_HEADER, "")
        organisation = Organisation.objects.filter(slug=slug).first() if slug else None
        expected = sms_signature(sms_webhook_secret(organisation), body) if organisation else ""
        if not organisation or not hmac.compare_digest(given.encode(), expected.encode()):
            raise PermissionDenied("Missing or wrong webhook signature.")
        return organisation
