"""Due dates count working days: weekends, national holidays and collective leave skipped."""

from datetime import date

import pytest

from slrt import workdays


@pytest.fixture(autouse=True)
def _ctx(app):
    with app.app_context():
        yield


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (date(2026, 11, 24), 5, date(2026, 12, 1)),  # Tue + 5: over one weekend
        (date(2026, 11, 27), 1, date(2026, 11, 30)),  # Friday + 1 = Monday
        (date(2026, 11, 28), 1, date(2026, 11, 30)),  # from a Saturday
        # Lebaran 2026: 18-24 March are Nyepi, Idul Fitri and cuti bersama; 21-22 a weekend
        (date(2026, 3, 17), 1, date(2026, 3, 25)),
        (date(2026, 3, 16), 3, date(2026, 3, 26)),
        # Christmas: 24 Dec cuti bersama, 25 Dec holiday, 26-27 weekend
        (date(2026, 12, 23), 1, date(2026, 12, 28)),
        (date(2026, 8, 14), 1, date(2026, 8, 18)),  # 17 August, Independence Day (Monday)
        (date(2026, 11, 24), 0, date(2026, 11, 24)),
        (date(2026, 11, 28), 0, date(2026, 11, 30)),  # 0 days from a Saturday: next working day
    ],
)
def test_add_working_days(start, days, due):
    assert workdays.add_working_days(start, days) == due


def test_collective_leave_is_not_a_working_day():
    assert not workdays.is_working_day(date(2026, 3, 23))  # Eid al-Fitr cuti bersama, a Monday
    assert not workdays.is_working_day(date(2026, 12, 24))  # Christmas cuti bersama, a Thursday
    assert workdays.is_working_day(date(2026, 11, 24))


def test_working_days_between_counts_both_ways():
    assert workdays.working_days_between(date(2026, 11, 24), date(2026, 12, 1)) == 5
    assert workdays.working_days_between(date(2026, 12, 1), date(2026, 11, 24)) == -5
    assert workdays.working_days_between(date(2026, 11, 24), date(2026, 11, 24)) == 0


def test_extra_holidays_from_settings(app):
    app.config["SLRT_EXTRA_HOLIDAYS"] = "2026-11-25, 2026-11-26"
    try:
        assert workdays.add_working_days(date(2026, 11, 24), 1) == date(2026, 11, 27)
    finally:
        app.config["SLRT_EXTRA_HOLIDAYS"] = ""


def test_due_at_is_end_of_the_local_working_day(frozen):
    due = workdays.due_at(date(2026, 11, 24), 5)
    assert due.isoformat() == "2026-12-01T16:59:59+00:00"  # 23:59:59 in Jakarta
    assert workdays.working_days_left(due) == 5
    frozen.move_to("2026-12-02T03:00:00+00:00")
    assert workdays.working_days_left(due) == -1


@pytest.mark.parametrize(
    ("now", "phrase"),
    [
        ("2026-11-24T03:00:00+00:00", "sisa 5 hari kerja"),
        ("2026-11-30T03:00:00+00:00", "sisa 1 hari kerja"),
        ("2026-12-01T03:00:00+00:00", "jatuh tempo hari ini"),
        ("2026-12-03T03:00:00+00:00", "terlambat 2 hari kerja"),
    ],
)
def test_due_phrase_for_screens(app, frozen, now, phrase):
    due = workdays.due_at(date(2026, 11, 24), 5)
    frozen.move_to(now)
    with app.test_request_context():
        assert workdays.due_phrase(due) == phrase
