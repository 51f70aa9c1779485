"""How stored recipients present themselves to the rule evaluators (both of them).

The Q compiler reads recipients through RECIPIENT_FIELD_MAP over `rule_queryset()`; the
predicate reads `recipient_context(recipient)`. Both expose the same fields with the same
"not set" meaning, so one rule selects the same people either way
(tests/segments/test_rule_agreement.py proves it):

- stage, country, language: the columns, with "" read as not set (NULLIF in SQL);
- age: the column (NULL = not set);
- custom attributes: keys of the `attributes` JSON (missing or null = not set);
- platform, channel, trigger, local_time: live-context fields a stored recipient does not have,
  so they are never set (a rule on them matches no stored recipient unless it asks `is not set`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import CharField, QuerySet, Value
from django.db.models.functions import NullIf

from organisations.models import Organisation
from segments.models import AttributeType, CustomAttribute, Recipient
from segments.rules import AttributeSpec, FieldMap, FieldType, Rule, parse_rule

_BLANKABLE_COLUMNS = ("stage", "country", "language")

RECIPIENT_FIELD_MAP = FieldMap(
    columns={
        **{name: f"rule_{name}" for name in _BLANKABLE_COLUMNS},
        "age": "age",
    },
    attributes="attributes",
)

_ATTRIBUTE_TYPES = {
    AttributeType.TEXT: FieldType.TEXT,
    AttributeType.NUMBER: FieldType.NUMBER,
    AttributeType.DATE: FieldType.DATE,
    AttributeType.CHOICE: FieldType.CHOICE,
}


def rule_queryset(queryset: QuerySet[Recipient] | None = None) -> QuerySet[Recipient]:
    """Recipients annotated with the columns RECIPIENT_FIELD_MAP points at."""
    queryset = Recipient.objects.all() if queryset is None else queryset
    blank = Value("", output_field=CharField())
    return queryset.annotate(
        **{f"rule_{name}": NullIf(name, blank) for name in _BLANKABLE_COLUMNS})


def recipient_context(recipient: Recipient) -> dict[str, Any]:
    """The context a stored recipient presents to `Rule.matches` (mirror of the field map)."""
    context: dict[str, Any] = dict(recipient.attributes or {})
    for name in _BLANKABLE_COLUMNS:
        context[name] = getattr(recipient, name) or None
    context["age"] = recipient.age
    return context


def attribute_spec(attribute: CustomAttribute) -> AttributeSpec:
    choices = tuple(attribute.choices) if attribute.type == AttributeType.CHOICE else ()
    return AttributeSpec(_ATTRIBUTE_TYPES[AttributeType(attribute.type)], choices)


def attribute_specs(organisation: Organisation) -> dict[str, AttributeSpec]:
    """The organisation's custom attributes, as the parser wants them."""
    attributes = CustomAttribute.objects.filter(organisation=organisation)
    return {attribute.name: attribute_spec(attribute) for attribute in attributes}


def rule_parse(text: str, *, organisation: Organisation,
               attributes: Mapping[str, AttributeSpec] | None = None) -> Rule:
    """Parse a rule against the built-in fields and the organisation's attributes."""
    specs = attribute_specs(organisation) if attributes is None else attributes
    return parse_rule(text, attributes=specs)
