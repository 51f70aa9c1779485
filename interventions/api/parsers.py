"""Parsers with their own size limits (below the site-wide MAX_REQUEST_BYTES)."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, JSONParser, get_encoding
from rest_framework.utils import json

from core.edge import json_checked, json_loads_bounded
from core.errors import PayloadTooLarge


def read_limited(stream, limit: int) -> bytes:  # type: ignore[no-untyped-def]
    data = stream.read(limit + 1) if stream is not None else b""
    if len(data) > limit:
        raise PayloadTooLarge(f"Request body too large: at most {limit} bytes.")
    return data


class LimitedJSONParser(JSONParser):
    """JSON bodies of at most `view.max_body_bytes` bytes (413 beyond).

    Decodes the bytes it read in one call instead of through a stream reader (DRF's way),
    with DRF's checks: text charsets only, strict JSON (no NaN or Infinity), ParseError (400),
    and the edge checks of core.edge (nesting depth, NUL and lone surrogates: 400).
    """

    def parse(self, stream, media_type=None, parser_context=None):  # type: ignore[no-untyped-def]
        parser_context = parser_context or {}
        limit = getattr(parser_context.get("view"), "max_body_bytes", 64 * 1024)
        data = read_limited(stream, limit)
        encoding = get_encoding(parser_context)
        try:
            value = json_loads_bounded(
                json.loads, data.decode(encoding),
                parse_constant=json.strict_constant if self.strict else None)
        except ValueError as error:  # UnicodeDecodeError included
            raise ParseError(f"JSON parse error - {error}") from error
        return json_checked(value)


class NDJSONParser(BaseParser):
    """Newline-delimited JSON, handed to the service as bytes (it reports bad lines itself)."""

    media_type = "application/x-ndjson"

    def parse(self, stream, media_type=None, parser_context=None):  # type: ignore[no-untyped-def]
        view = (parser_context or {}).get("view")
        return read_limited(stream, getattr(view, "max_body_bytes", 8 * 1024 * 1024))
