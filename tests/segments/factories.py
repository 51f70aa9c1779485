"""Segments test data, made through the real services so encryption and pseudonyms are real."""

from __future__ import annotations

from typing import Any

from organisations.models import Organisation
from organisations.services import Actor
from segments.models import Recipient, Segment
from segments.recipients import recipient_upsert
from segments.services import custom_attribute_create, segment_create

SYSTEM = Actor.system()


def recipient(organisation: Organisation, reference: str = "P-0001", **fields: Any) -> Recipient:
    data: dict[str, Any] = {"reference": reference, "stage": "offender", "country": "GB",
                            "language": "en", "age": 34, **fields}
    if ("email" in data or "phone" in data) and "consent_basis" not in data:
        data["consent_basis"] = "consent"
    created, _ = recipient_upsert(organisation=organisation, data=data, actor=SYSTEM)
    return created


def segment(organisation: Organisation, rule: str = 'country = "GB"', **fields: Any) -> Segment:
    values = {"name": "UK", "stage": "offender", **fields}
    return segment_create(organisation=organisation, rule=rule, actor=SYSTEM, **values)


def standard_attributes(organisation: Organisation) -> None:
    custom_attribute_create(organisation=organisation, name="release_date", type="date",
                            actor=SYSTEM)
    custom_attribute_create(organisation=organisation, name="risk_level", type="choice",
                            choices=["low", "medium", "high"], actor=SYSTEM)
