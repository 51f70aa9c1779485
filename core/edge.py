"""Input checked once, at the edge: nesting depth, text PostgreSQL cannot store, paging bounds.

Every request body passes through one of the parsers below (settings.DEFAULT_PARSER_CLASSES,
and the interventions parsers call `json_checked`), so a view never sees:

* JSON nested deeper than MAX_JSON_DEPTH (json.loads recurses; deeper input raised
  RecursionError, a 500, and later code that walks the value would recurse too);
* a string, or an object key, holding a NUL character (PostgreSQL refuses NUL in text and
  jsonb) or a lone UTF-16 surrogate such as "\\ud800" (it cannot be encoded as UTF-8).

The error is a 400 naming the top-level field the bad value sits under. Query parameters get
the same text check in `outreach.middleware.EdgeTextMiddleware`; NDJSON lines and CSV files
are checked line by line by their importers with `json_problem` / `text_problem`.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser

MAX_JSON_DEPTH = 32
NON_FIELD = "non_field_errors"
NUL_PROBLEM = "May not contain a NUL character."
SURROGATE_PROBLEM = "May not contain a lone UTF-16 surrogate (not valid Unicode text)."
DEPTH_PROBLEM = f"Nested too deeply: at most {MAX_JSON_DEPTH} levels of arrays and objects."


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored as text, or None."""
    if "\x00" in text:
        return NUL_PROBLEM
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_PROBLEM
    return None


def json_problem(value: Any) -> tuple[str, str] | None:
    """(field, problem) for the first bad part of a parsed JSON value, or None.

    Iterative, so it cannot itself run out of stack; the field is the top-level key the
    problem sits under (NON_FIELD for a problem at the top or in a top-level array).
    """
    stack: list[tuple[Any, int, str]] = [(value, 1, NON_FIELD)]
    while stack:
        item, depth, field = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return field, problem
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                return field, DEPTH_PROBLEM
            if isinstance(item, dict):
                for key, child in item.items():
                    name = key if depth == 1 else field
                    problem = text_problem(key)
                    if problem:
                        return (NON_FIELD if depth == 1 else field), f"A field name: {problem}"
                    stack.append((child, depth + 1, name))
            else:
                stack.extend((child, depth + 1, field) for child in item)
    return None


def json_checked(value: Any) -> Any:
    """`value`, or a 400 naming the field whose value is too deep or not storable text."""
    found = json_problem(value)
    if found:
        raise serializers.ValidationError({found[0]: [found[1]]})
    return value


def json_loads_bounded(loads: Any, text: str | bytes, **kwargs: Any) -> Any:
    """loads(text), with nesting too deep for the parser's stack answered as a 400."""
    try:
        return loads(text, **kwargs)
    except RecursionError as error:
        raise ParseError(f"JSON parse error - {DEPTH_PROBLEM}") from error


class CheckedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):  # type: ignore[no-untyped-def]
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as error:
            raise ParseError(f"JSON parse error - {DEPTH_PROBLEM}") from error
        return json_checked(data)


def _form_checked(data: Any) -> Any:
    for key, values in data.lists():
        for text in (key, *[v for v in values if isinstance(v, str)]):
            problem = text_problem(text)
            if problem:
                raise serializers.ValidationError({key if text is not key else NON_FIELD:
                                                   [problem]})
    return data


class CheckedFormParser(FormParser):
    def parse(self, stream, media_type=None, parser_context=None):  # type: ignore[no-untyped-def]
        return _form_checked(super().parse(stream, media_type, parser_context))


class CheckedMultiPartParser(MultiPartParser):
    """Form fields checked here; uploaded files are checked by the importer that reads them."""

    def parse(self, stream, media_type=None, parser_context=None):  # type: ignore[no-untyped-def]
        parsed = super().parse(stream, media_type, parser_context)
        _form_checked(parsed.data)
        return parsed


# --- paging ------------------------------------------------------------------------------------

MAX_LIMIT = 200
MAX_OFFSET = 1_000_000


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """limit 1..MAX_LIMIT (default PAGE_SIZE), offset 0..MAX_OFFSET; anything else is a 400.

    DRF's own class treated a negative or unparsable value as the default and passed any
    offset to SQL, where 2**63 overflowed bigint (a 500).
    """

    max_limit = MAX_LIMIT

    def get_limit(self, request):  # type: ignore[no-untyped-def]
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit
        return _bounded(self.limit_query_param, raw, 1, MAX_LIMIT)

    def get_offset(self, request):  # type: ignore[no-untyped-def]
        raw = request.query_params.get(self.offset_query_param)
        if raw is None:
            return 0
        return _bounded(self.offset_query_param, raw, 0, MAX_OFFSET)

    def get_schema_operation_parameters(self, view):  # type: ignore[no-untyped-def]
        parameters = super().get_schema_operation_parameters(view)
        bounds = {self.limit_query_param: (1, MAX_LIMIT), self.offset_query_param: (0, MAX_OFFSET)}
        for parameter in parameters:
            low, high = bounds[parameter["name"]]
            parameter["schema"] = {"type": "integer", "minimum": low, "maximum": high}
            parameter["description"] += f" From {low} to {high}."
        return parameters


def _bounded(name: str, raw: str, low: int, high: int) -> int:
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 12 or not low <= int(text) <= high:
        raise serializers.ValidationError({name: [f"An integer from {low} to {high}."]})
    return int(text)
