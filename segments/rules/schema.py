"""The fields a rule may use: built-in context fields plus an organisation's own attributes."""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    TIME = "time"
    CHOICE = "choice"


# Only these types can be declared by an organisation; TIME is reserved for local_time.
ATTRIBUTE_TYPES = frozenset({FieldType.TEXT, FieldType.NUMBER, FieldType.DATE, FieldType.CHOICE})

STAGES = ("at_risk", "offender", "young_person_hsb", "concerned_other", "professional")
CHANNELS = ("email", "sms", "webhook", "on_platform")

# Attribute names become JSON keys and Django lookup parts (attributes__<name>__gte), so
# they must be plain lower-case identifiers without the "__" lookup separator.
_ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "set"})


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """The declared type of a custom attribute (choices only for FieldType.CHOICE)."""

    type: FieldType
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", FieldType(self.type))
        object.__setattr__(self, "choices", tuple(self.choices))
        if self.type not in ATTRIBUTE_TYPES:
            raise ValueError(f"attributes cannot have type {self.type.value!r}")
        if (self.type == FieldType.CHOICE) != bool(self.choices):
            raise ValueError("choices are required for a choice attribute and only for one")
        if not all(isinstance(choice, str) for choice in self.choices):
            raise ValueError("choices must be strings")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A field as the evaluators see it: where it lives (custom or built-in) and its type."""

    name: str
    type: FieldType
    choices: tuple[str, ...] = ()
    custom: bool = False
    # Whole-number fields may be integer columns, where Django would truncate 17.5 to 17.
    whole: bool = False


BUILTIN_FIELDS: Mapping[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("stage", FieldType.CHOICE, STAGES),
        FieldSpec("country", FieldType.TEXT),
        FieldSpec("language", FieldType.TEXT),
        FieldSpec("age", FieldType.NUMBER, whole=True),
        FieldSpec("platform", FieldType.TEXT),
        FieldSpec("channel", FieldType.CHOICE, CHANNELS),
        FieldSpec("trigger", FieldType.TEXT),
        FieldSpec("local_time", FieldType.TIME),
    )
}


def validate_attribute_name(name: str) -> None:
    """Raise ValueError unless `name` can be declared as a custom attribute."""
    if not isinstance(name, str) or not _ATTRIBUTE_NAME.fullmatch(name):
        raise ValueError(
            f"attribute name {name!r} must be lower-case letters, digits and _ "
            "(starting with a letter, at most 63 characters)"
        )
    if "__" in name:
        raise ValueError(f"attribute name {name!r} must not contain '__'")
    if name in BUILTIN_FIELDS or name in _KEYWORDS or keyword.iskeyword(name):
        raise ValueError(f"attribute name {name!r} is reserved")


def build_schema(attributes: Mapping[str, AttributeSpec]) -> dict[str, FieldSpec]:
    """All fields a rule may use, built-in first, keyed by name."""
    schema = dict(BUILTIN_FIELDS)
    for name, spec in attributes.items():
        validate_attribute_name(name)
        if not isinstance(spec, AttributeSpec):
            raise TypeError(f"attribute {name!r} must be declared with an AttributeSpec")
        schema[name] = FieldSpec(name, spec.type, spec.choices, custom=True)
    return schema
