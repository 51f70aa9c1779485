"""The one gated-transition mechanism (organisations.transitions), used by campaigns' lifecycle
and learning's review: a conditional UPDATE from the allowed states, one audit row, a 409
naming the current state, and a stale copy that cannot win twice."""

from __future__ import annotations

import pytest

from campaigns import lifecycle
from core.errors import Conflict
from learning import services as learning_services
from learning.models import Module
from organisations.models import AuditEvent
from organisations.services import Actor
from organisations.transitions import transition, transition_attempt, transition_require
from tests.learning.factories import draft_module

pytestmark = pytest.mark.django_db

TABLE = {"submit": (frozenset({"draft"}), "in_review"),
         "approve": (frozenset({"in_review"}), "approved")}


def move(module: Module, action: str, actor: Actor) -> Module:
    return transition(instance=module, table=TABLE, action=action, actor=actor,
                      audit_prefix="test.module", noun="module")


def test_it_moves_from_an_allowed_state_and_writes_one_audit_row(tenant):
    module = draft_module(tenant)
    actor = Actor(user=tenant.manager)
    move(module, "submit", actor)
    assert module.state == "in_review"
    assert Module.objects.get(pk=module.pk).state == "in_review"
    event = AuditEvent.objects.get(action="test.module.submit")
    assert event.changes == {"from": "draft", "to": "in_review"}
    assert event.organisation_id == tenant.organisation.pk


def test_it_refuses_from_another_state_naming_the_current_one(tenant):
    module = draft_module(tenant)
    with pytest.raises(Conflict) as refused:
        move(module, "approve", Actor(user=tenant.manager))
    assert refused.value.message == "cannot approve a module that is draft"
    assert refused.value.details == {"current_state": "draft"}
    assert not AuditEvent.objects.filter(action="test.module.approve").exists()


def test_a_stale_copy_cannot_win_the_same_transition_twice(tenant):
    module = draft_module(tenant)
    stale = Module.objects.get(pk=module.pk)
    actor = Actor(user=tenant.manager)
    move(module, "submit", actor)
    assert stale.state == "draft"  # it believes the transition is still open
    assert transition_attempt(instance=stale, table=TABLE, action="submit") is False
    with pytest.raises(Conflict, match="that is in_review"):
        move(stale, "submit", actor)
    assert AuditEvent.objects.filter(action="test.module.submit").count() == 1


def test_the_attempt_writes_the_extra_fields_only_when_it_moves(tenant):
    module = draft_module(tenant)
    assert transition_attempt(instance=module, table=TABLE, action="submit",
                              updates={"summary": "changed"}) is True
    assert Module.objects.get(pk=module.pk).summary == "changed"
    assert transition_attempt(instance=module, table=TABLE, action="submit",
                              updates={"summary": "again"}) is False
    assert Module.objects.get(pk=module.pk).summary == "changed"


def test_require_fails_early_from_the_state_in_hand():
    transition_require(table=TABLE, action="submit", state="draft", noun="module")
    with pytest.raises(Conflict, match="cannot approve a module that is draft"):
        transition_require(table=TABLE, action="approve", state="draft", noun="module")


def test_campaigns_and_learning_both_use_it():
    import inspect

    for source in (inspect.getsource(lifecycle._transition),
                   inspect.getsource(learning_services._transition)):
        assert "transition(" in source and ".update(" not in source
