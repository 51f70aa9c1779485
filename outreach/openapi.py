"""The schema says what the server enforces: every operation lists the error statuses it can
answer and the scope it needs.

Statuses added to each operation that does not document them itself (a view's own wording
wins):

* 400: every operation (query parameters and the path are checked at the edge, paging
  bounds, bodies);
* 401 and 403: operations behind an API key (no or a bad key; the key lacks the scope);
* 404: operations with a path parameter (an unknown or another organisation's object, a
  malformed id);
* 413 and 415: operations that take a body (over the size limit; an unsupported content type);
* 429: throttled operations.

Lists carry minItems / maxItems from their fields' bounds.

The scope (`read_scope` for GET/HEAD, `write_scope` otherwise, as
organisations.api.permissions.required_scope decides) is named in the description and as
`x-required-scope`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import SAFE_METHODS, AllowAny

ERROR_BODY = {"application/json": {"schema": {
    "type": "object", "additionalProperties": {},
    "description": "{\"detail\": message} or {field: [message, …]}"}}}

STATUS_TEXT = {
    "400": "Invalid input: the body names each bad field or parameter.",
    "401": "No API key, or an invalid, expired or revoked one.",
    "403": "The key lacks the scope this operation needs.",
    "404": "Not found: unknown, another organisation's, or a malformed id.",
    "413": "The body is larger than the limit.",
    "415": "Unsupported content type.",
    "429": "Over your organisation's request budget; retry after Retry-After.",
}
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class OutreachAutoSchema(AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):  # type: ignore[no-untyped-def]
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        scope = self._required_scope()
        if scope:
            operation["x-required-scope"] = scope
            note = f"Requires the `{scope}` scope."
            operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
        return operation

    def _required_scope(self) -> str | None:
        if self.method in SAFE_METHODS:
            return getattr(self.view, "read_scope", None)
        return getattr(self.view, "write_scope", None) or getattr(self.view, "read_scope", None)

    def _error_statuses(self) -> list[str]:
        statuses = ["400"]
        if self._behind_a_key():
            statuses += ["401", "403"]
        if "{" in self.path:
            statuses.append("404")
        if self.method in BODY_METHODS:
            statuses += ["413", "415"]
        if self.view.get_throttles():
            statuses.append("429")
        return statuses

    def _behind_a_key(self) -> bool:
        permissions = self.view.get_permissions()
        return bool(permissions) and not all(isinstance(p, AllowAny) for p in permissions)

    def _map_serializer_field(self, field, direction, bypass_extensions=False):  # type: ignore[no-untyped-def]
        """Lists say how many items the server takes (minItems / maxItems): a ListField's or
        a many=True serializer's min_length, max_length and allow_empty=False."""
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(schema, dict) and schema.get("type") == "array":
            low = getattr(field, "min_length", None)
            if getattr(field, "allow_empty", True) is False:
                low = max(low or 0, 1)
            high = getattr(field, "max_length", None)
            if low:
                schema.setdefault("minItems", low)
            if high is not None:
                schema.setdefault("maxItems", high)
        return schema

    def _get_response_bodies(self, direction: Any = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        for status in self._error_statuses():
            if status not in responses:
                responses[status] = {"description": STATUS_TEXT[status], "content": ERROR_BODY}
        return dict(sorted(responses.items()))
