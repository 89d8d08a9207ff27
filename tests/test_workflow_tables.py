"""The transition tables themselves (no database): every move and every refusal of DESIGN.md."""

import pytest

from slrt import workflow
from slrt.access import AGENCY, RESIDENT, SYSTEM, role_of
from slrt.models import Case, Staff
from slrt.models.enums import CaseStatus as C
from slrt.models.enums import ReferralStatus as R
from slrt.models.enums import Role

REFERRAL_ALLOWED = {
    ("accept", R.SENT): R.ACCEPTED,
    ("complete", R.SENT): R.COMPLETED,
    ("complete", R.ACCEPTED): R.COMPLETED,
    ("reject", R.SENT): R.REJECTED,
    ("reject", R.ACCEPTED): R.REJECTED,
    ("cancel", R.SENT): R.CANCELLED,
    ("cancel", R.ACCEPTED): R.CANCELLED,
    ("reopen", R.COMPLETED): R.SENT,
}

CASE_ALLOWED = {
    ("start", C.OPEN): C.IN_PROGRESS,
    ("start", C.RESOLVED): C.IN_PROGRESS,
    ("resolve", C.IN_PROGRESS): C.RESOLVED,
    ("close", C.RESOLVED): C.CLOSED,
    ("cancel", C.OPEN): C.CANCELLED,
    ("cancel", C.IN_PROGRESS): C.CANCELLED,
}


@pytest.mark.parametrize("move", sorted(workflow.REFERRAL_MOVES))
@pytest.mark.parametrize("state", list(R))
def test_referral_table_matches_the_design(move, state):
    rule = workflow.REFERRAL_MOVES[move]
    expected = REFERRAL_ALLOWED.get((move, state))
    assert (state in rule.sources) == (expected is not None)
    if expected is not None:
        assert rule.target == expected


@pytest.mark.parametrize("move", sorted(workflow.CASE_MOVES))
@pytest.mark.parametrize("state", list(C))
def test_case_table_matches_the_design(move, state):
    rule = workflow.CASE_MOVES[move]
    expected = CASE_ALLOWED.get((move, state))
    assert (state in rule.sources) == (expected is not None)
    if expected is not None:
        assert rule.target == expected


@pytest.mark.parametrize(
    ("move", "may"),
    [
        ("accept", {Role.BACK_OFFICE, Role.SUPERVISOR, Role.MANAGER, AGENCY}),
        ("complete", {Role.BACK_OFFICE, Role.SUPERVISOR, Role.MANAGER, AGENCY}),
        ("reject", {Role.BACK_OFFICE, Role.SUPERVISOR, Role.MANAGER, AGENCY}),
        ("cancel", {Role.BACK_OFFICE, Role.SUPERVISOR, Role.MANAGER}),
        ("reopen", {Role.BACK_OFFICE, Role.SUPERVISOR, Role.MANAGER, RESIDENT}),
    ],
)
def test_referral_roles(move, may):
    assert workflow.REFERRAL_MOVES[move].roles == frozenset(may)


def test_only_supervisors_and_managers_close_or_cancel_cases():
    assert workflow.CASE_MOVES["close"].roles == {Role.SUPERVISOR, Role.MANAGER}
    assert workflow.CASE_MOVES["cancel"].roles == {Role.SUPERVISOR, Role.MANAGER}
    assert workflow.CASE_MOVES["resolve"].roles == {SYSTEM}


def test_reasons_are_required_where_the_design_says():
    assert {n for n, m in workflow.REFERRAL_MOVES.items() if m.needs_note} == {"reject", "cancel"}
    assert {n for n, m in workflow.CASE_MOVES.items() if m.needs_note} == {"cancel"}


def test_role_of_rejects_non_actors():
    with pytest.raises(TypeError):
        role_of(object())


@pytest.mark.parametrize("state", list(C))
@pytest.mark.parametrize("role", list(Role))
def test_who_may_refer_and_when(state, role):
    expected = role in (Role.BACK_OFFICE, Role.SUPERVISOR, Role.MANAGER) and state in (C.OPEN, C.IN_PROGRESS,
                                                                                        C.RESOLVED)
    assert workflow.may_refer(Case(status=state), Staff(role=role)) == expected


@pytest.mark.parametrize("state", list(C))
@pytest.mark.parametrize("role", list(Role))
def test_who_may_reassign_and_when(state, role):
    expected = role in (Role.SUPERVISOR, Role.MANAGER) and state not in (C.CLOSED, C.CANCELLED)
    assert workflow.may_reassign(Case(status=state), Staff(role=role)) == expected
