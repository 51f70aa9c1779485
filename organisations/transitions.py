"""Gated state transitions: the one mechanism behind campaigns' lifecycle and learning's review.

An app declares its table, `{action: (states it may start from, state it leads to)}`, and moves
an object only through `transition`: one conditional UPDATE (`state IN allowed`), so two
concurrent transitions cannot both win, and one audit row in the same transaction. A refused
transition raises `core.errors.Conflict` (HTTP 409) naming the current state;
`transition_attempt` is the same UPDATE that answers whether it happened instead.
`transition_require` fails early, from the state in hand, before an app's costlier checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models, transaction

from core.errors import Conflict
from organisations.services import Actor, audit_record

TransitionTable = Mapping[str, tuple[frozenset[str], str]]


def refusal(*, action: str, noun: str, current: str | None) -> Conflict:
    return Conflict(f"cannot {action} a {noun} that is {current}", current_state=current)


def transition_require(*, table: TransitionTable, action: str, state: str, noun: str) -> None:
    allowed, _ = table[action]
    if state not in allowed:
        raise refusal(action=action, noun=noun, current=state)


def transition_attempt(*, instance: models.Model, table: TransitionTable, action: str,
                       field: str = "state", updates: Mapping[str, Any] | None = None) -> bool:
    """The conditional UPDATE alone: True when the row was in an allowed state and moved (the
    instance then carries the new values), False when it was not (nothing written)."""
    allowed, target = table[action]
    values = {field: target, **(updates or {})}
    moved = type(instance)._default_manager.filter(
        pk=instance.pk, **{f"{field}__in": allowed}).update(**values)
    if moved:
        for name, value in values.items():
            setattr(instance, name, value)
    return bool(moved)


@transaction.atomic
def transition(*, instance: Any, table: TransitionTable, action: str, actor: Actor,
               audit_prefix: str, noun: str, field: str = "state",
               updates: Mapping[str, Any] | None = None,
               changes: Mapping[str, Any] | None = None) -> Any:
    """Move `instance` by `action` and write the audit row `<audit_prefix>.<action>` with the
    states from and to; Conflict naming the current state when the table does not allow it."""
    previous = getattr(instance, field)
    if not transition_attempt(instance=instance, table=table, action=action, field=field,
                              updates=updates):
        current = (type(instance)._default_manager.filter(pk=instance.pk)
                   .values_list(field, flat=True).first())
        raise refusal(action=action, noun=noun, current=current)
    audit_record(organisation=instance.organisation, actor=actor,
                 action=f"{audit_prefix}.{action}", target=instance,
                 changes={"from": previous, "to": getattr(instance, field), **(changes or {})})
    return instance
