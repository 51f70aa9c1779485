"""The intervention request checked by hand: the endpoint's hot path.

A DRF serializer costs more CPU than the rest of the request's own work (it deep-copies its
fields on every instantiation), so the rules of `serializers.InterventionIn`, which documents
the input in the OpenAPI schema, are applied here directly. Errors name their field.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError

from interventions.services import InterventionContext

_ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
MAX_ATTRIBUTES = 16  # the one limit: serializers.InterventionIn (the schema) checks with it too
_TEXT_FIELDS = (("trigger", 64, True), ("country", 8, True), ("language", 16, True),
                ("session_id", 256, True), ("platform", 64, False))


def intervention_context_parse(data: Any) -> InterventionContext:
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Send a JSON object."]})
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name, limit, required in _TEXT_FIELDS:
        value = data.get(name)
        if name in data and value is None:
            errors[name] = ["May not be null."]
        elif value is None or value == "":
            if required:
                errors[name] = ["This field is required."]
            values[name] = ""
        elif not isinstance(value, str):
            errors[name] = ["Not a valid string."]
        elif len(value) > limit:
            errors[name] = [f"Ensure this field has no more than {limit} characters."]
        else:
            values[name] = value if name == "session_id" else value.strip()
    attributes = data.get("attributes", {})
    problem = attributes_problem(attributes)
    if problem:
        errors["attributes"] = [problem]
    if errors:
        raise ValidationError(errors)
    return InterventionContext(attributes=attributes, **values)


def attributes_problem(attributes: Any) -> str | None:
    if not isinstance(attributes, dict):
        return "Send an object of name: value pairs."
    if len(attributes) > MAX_ATTRIBUTES:
        return f"At most {MAX_ATTRIBUTES} attributes."
    for name, item in attributes.items():
        if not _ATTRIBUTE_NAME.fullmatch(name):
            return f"'{name[:70]}' is not a lower-case name."
        if not isinstance(item, str | int | float | bool) or (
                isinstance(item, str) and len(item) > 64):
            return f"'{name}' must be a string (at most 64 characters), number or boolean."
    return None
