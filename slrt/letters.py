"""Referral letters (surat rujukan): numbered from the unit's yearly sequence on first print.

A letter's number reads ``0042/SLRT/XII/2026``: the 42nd letter the unit wrote in 2026, first
printed in December. Each unit counts its own letters, from 1 every January (the year and
month of the deployment's time zone). The number is given once, when the letter is first
printed, and kept: a reprint shows the same number.

Two prints at the same moment must not share a number. The number is the unit's highest of
the year plus one, written under a unique constraint on (unit, year, number) in a SAVEPOINT:
the print that loses the race (PostgreSQL makes it wait for the winner's commit, then
refuses the row) reads the highest number again and takes the next. On SQLite the request
holds the write lock first (``slrt.extensions.begin_write``), so prints already queue up.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from slrt import clock, workflow
from slrt.access import Actor, System, check_referral_scope
from slrt.errors import ConcurrentChange, IllegalTransition, PermissionDenied
from slrt.extensions import db
from slrt.models import Referral, ReferralLetter, Staff
from slrt.models.enums import ReferralStatus

#: Months as letter numbers write them.
ROMAN_MONTHS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")

#: The office's code in every letter number.
LETTER_CODE = "SLRT"

#: A referral that ended without the service gets no new letter (one printed before still reprints).
NO_NEW_LETTER = frozenset({ReferralStatus.REJECTED, ReferralStatus.CANCELLED})

#: Numbers taken by other prints between our read and our write before we give up (each such
#: print committed a letter, so this many in a row means something else is wrong).
TRIES = 20


def format_reference(number: int, month: int, year: int) -> str:
    """The letter number as printed: 0042/SLRT/XII/2026."""
    return f"{number:04d}/{LETTER_CODE}/{ROMAN_MONTHS[month - 1]}/{year}"


def letter_of(referral: Referral) -> ReferralLetter | None:
    """The referral's letter if it was printed before."""
    return db.session.scalar(select(ReferralLetter).where(ReferralLetter.referral_id == referral.id))


def issue_letter(referral: Referral, *, actor: Actor) -> ReferralLetter:
    """The referral's letter: the one printed before, or a new one with the unit's next number.

    Staff of the case's unit (or a unit above it) only; a rejected or cancelled referral gets no new
    number. Flushes; the caller commits.
    """
    if not isinstance(actor, Staff | System):
        raise PermissionDenied(_l("Only staff print referral letters."))
    check_referral_scope(actor, referral)
    unit_id = referral.case.unit_id
    issued_by_id = actor.id if isinstance(actor, Staff) else None
    for _attempt in range(TRIES):
        letter = letter_of(referral)
        if letter is not None:
            return letter
        if referral.status in NO_NEW_LETTER:
            raise IllegalTransition(_l("No referral letter for a referral that is %(status)s.",
                                       status=workflow.status_label(referral.status)))
        now = clock.now()
        local = now.astimezone(clock.local_zone())
        last = db.session.scalar(select(func.max(ReferralLetter.number)).where(
            ReferralLetter.unit_id == unit_id, ReferralLetter.year == local.year))
        number = (last or 0) + 1
        letter = ReferralLetter(referral_id=referral.id, unit_id=unit_id, year=local.year, number=number,
                                reference=format_reference(number, local.month, local.year),
                                issued_at=now, issued_by_id=issued_by_id)
        try:
            with db.session.begin_nested():
                db.session.add(letter)
        except IntegrityError:
            continue  # another print took the number, or printed this referral, first: read again
        return letter
    raise ConcurrentChange(_l("Many letters are being printed at once. Please print again."))
