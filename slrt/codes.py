"""Ticket and referral codes: short digit strings with a Verhoeff check digit.

Residents type them on keypad phones, so they are digits only, written grouped
(48213-7: the body, then the check digit) and read leniently: spaces, dashes and dots
are ignored. Verhoeff catches every single wrong digit and every swap of two
neighbouring digits, the two mistakes people make most.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select
from stdnum import verhoeff

from slrt.errors import ValidationError
from slrt.extensions import db
from slrt.models import Case, Referral
from slrt.text import max_length

#: Characters people put between digits; ignored when reading a code.
_SEPARATORS = " -./_"
#: The most digits a code has: what the ticket and referral code columns hold.
MAX_DIGITS = min(max_length(Case.ticket), max_length(Referral.code))


def with_check_digit(body: str) -> str:
    return body + verhoeff.calc_check_digit(body)


def format_code(code: str) -> str:
    """Return 48213-7 for 482137."""
    return f"{code[:-1]}-{code[-1]}"


def parse_code(text: str | None, field: str = "code") -> str:
    """Return the code's digits from what someone typed, or raise ValidationError.

    "48213-7", "48213 7", " 482137 " all give "482137". A wrong check digit, a typo or
    two swapped digits raise an error that says so, rather than finding another record.
    """
    raw = (text or "").strip()
    digits = "".join(ch for ch in raw if ch not in _SEPARATORS)
    if not digits:
        raise ValidationError(_l("Enter a code."), field=field)
    # ASCII digits only: str.isdigit() also takes other scripts' digits ("٤٨٢١٣٧").
    if not (digits.isascii() and digits.isdigit()):
        raise ValidationError(_l("A code has digits only, like 48213-7."), field=field)
    if len(digits) < 5:
        raise ValidationError(_l("A code has at least 5 digits, like 48213-7."), field=field)
    if len(digits) > MAX_DIGITS:  # not repeated back: whatever was typed, the answer stays short
        raise ValidationError(_l("A code has at most %(count)s digits, like 48213-7.", count=MAX_DIGITS),
                              field=field)
    if not verhoeff.is_valid(digits):
        raise ValidationError(
            _l("Code %(code)s is not right: a digit is mistyped or two digits are swapped.",
               code=format_code(digits)),
            field=field,
        )
    return digits


def code_taken(code: str) -> bool:
    """True when ``code`` is a ticket or a referral code already: the two never overlap."""
    return bool(
        db.session.scalar(select(exists().where(Case.ticket == code)))
        or db.session.scalar(select(exists().where(Referral.code == code)))
    )


def new_code(is_taken: Callable[[str], bool] = code_taken, digits: int | None = None,
             tries_per_length: int = 8) -> str:
    """Draw a random code not yet taken, growing one digit when a length gets crowded.

    By default a new ticket or referral code: free among both, SLRT_CODE_DIGITS long at least.
    Codes stay as short as the table allows: a district with a few thousand cases keeps
    six-character codes; a crowded length costs a few lookups, then a longer code.
    The body never starts with 0, so a code keeps its length when read as a number.
    """
    length = current_app.config["SLRT_CODE_DIGITS"] if digits is None else digits
    while True:
        for _ in range(tries_per_length):
            body = str(secrets.randbelow(9 * 10 ** (length - 1)) + 10 ** (length - 1))
            code = with_check_digit(body)
            if not is_taken(code):
                return code
        length += 1
