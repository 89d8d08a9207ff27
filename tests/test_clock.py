"""The domain clock: real time (frozen by the tests' time-machine), or stopped for a block."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fakes.builders import make_case
from slrt import clock
from tests.conftest import FROZEN_AT, JAKARTA

LAST_YEAR = datetime(2025, 12, 1, 9, 30, tzinfo=JAKARTA)


def test_now_follows_time_machine_outside_a_stopped_block(frozen):
    assert clock.now() == FROZEN_AT
    frozen.shift(timedelta(minutes=5))
    assert clock.now() == FROZEN_AT + timedelta(minutes=5)


def test_stopped_at_answers_the_moment_in_utc_nests_and_restores(frozen):
    with clock.stopped_at(LAST_YEAR):
        assert clock.now() == LAST_YEAR and clock.now().tzinfo == UTC
        with clock.stopped_at(LAST_YEAR + timedelta(days=1)):
            assert clock.now() == LAST_YEAR + timedelta(days=1)
        assert clock.now() == LAST_YEAR
    assert clock.now() == FROZEN_AT


def test_stopped_at_restores_real_time_when_the_block_fails(frozen):
    try:
        with clock.stopped_at(LAST_YEAR):
            raise ValueError("step failed")
    except ValueError:
        pass
    assert clock.now() == FROZEN_AT


def test_a_case_opened_in_a_stopped_block_is_dated_then(app, district, db_session):
    with clock.stopped_at(LAST_YEAR):
        case = make_case(district)
        db_session.flush()
    assert clock.as_utc(case.opened_at) == LAST_YEAR
    assert [clock.as_utc(event.at) for event in case.events] == [LAST_YEAR]
    assert clock.today() == FROZEN_AT.date()
