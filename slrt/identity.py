"""Validation of personal identifiers: NIK, KK number, mobile phone, resident names.

One place, on well-kept libraries: python-stdnum for the NIK's structure (length,
province and regency code, birth date with day + 40 for women) and phonenumbers for
Indonesian mobile numbers. Messages are for the clerk at the counter.
"""

from __future__ import annotations

import functools
import re
from datetime import date

import phonenumbers
from flask_babel import lazy_gettext as _l
from phonenumbers import PhoneMetadata
from stdnum import numdb
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.id import nik as stdnum_nik

from slrt import clock
from slrt.errors import ValidationError
from slrt.models.enums import Sex


def _digits_only(value: str | None) -> str:
    """The value without the separators people type in a NIK or KK number (space, dash, dot).

    str.replace three times: four times faster than str.translate on a NIK, nine than a generator."""
    return (value or "").replace(" ", "").replace("-", "").replace(".", "")


def validate_nik(value: str | None, birth_date: date | None = None, sex: Sex | str | None = None) -> str:
    """Return the NIK as 16 digits, or raise ValidationError saying what is wrong.

    When ``birth_date`` and ``sex`` are given, the date encoded in digits 7-12 (day + 40
    for women) must agree with them: a common sign of a mistyped NIK or the wrong person.
    """
    number = _digits_only(value)
    if not number:
        raise ValidationError(_l("NIK is required."), field="nik")
    if not (number.isascii() and number.isdigit()):  # not other scripts' digits ("٣٣١٦...")
        raise ValidationError(_l("NIK may contain digits only."), field="nik")
    if len(number) != 16:
        raise ValidationError(
            _l("NIK must be 16 digits; %(count)s were entered.", count=len(number)), field="nik"
        )
    # python-stdnum checks the province and the birth date; the regency we check ourselves.
    if not _region_known(number):
        raise ValidationError(
            _l("The first digits of the NIK (%(code)s) are not a known province and regency code.",
               code=number[:4]),
            field="nik",
        )
    if not _birth_date_valid(number[6:12]):
        raise ValidationError(
            _l("Digits 7-12 of the NIK are not a valid birth date (women: day + 40)."), field="nik"
        ) from None

    if sex is not None:
        is_female_code = int(number[6:8]) > 40
        if is_female_code != (Sex(sex) == Sex.FEMALE):
            raise ValidationError(
                _l("The NIK is coded for a woman (day + 40) but the sex entered is male.")
                if is_female_code
                else _l("The NIK is coded for a man but the sex entered is female (women: day + 40)."),
                field="nik",
            )
    if birth_date is not None:
        day, month, year = int(number[6:8]) % 40, int(number[8:10]), int(number[10:12])
        if (birth_date.day, birth_date.month, birth_date.year % 100) != (day, month, year):
            raise ValidationError(
                _l("The birth date in the NIK (%(nik_date)s) differs from the birth date entered "
                   "(%(entered)s).",
                   nik_date=f"{day:02d}-{month:02d}-{year:02d}", entered=clock.format_date(birth_date)),
                field="nik",
            )
    return number


def birth_date_from_nik(number: str, today: date) -> date:
    """Return the birth date a valid NIK encodes, choosing the century that is not in the future."""
    day, month, yy = int(number[6:8]) % 40, int(number[8:10]), int(number[10:12])
    for century in (2000, 1900):
        try:
            candidate = date(century + yy, month, day)
        except ValueError:
            continue
        if candidate <= today:
            return candidate
    raise ValidationError(_l("Digits 7-12 of the NIK are not a valid birth date (women: day + 40)."), field="nik")


def sex_from_nik(number: str) -> Sex:
    return Sex.FEMALE if int(number[6:8]) > 40 else Sex.MALE


def facts_from_nik(value: str | None) -> tuple[date, Sex] | None:
    """The birth date and sex a valid NIK encodes (digits 7-12: DDMMYY, day + 40 for women), or None
    when the NIK is not valid: the intake form fills them in for the clerk to confirm or correct."""
    try:
        number = validate_nik(value)
        return birth_date_from_nik(number, clock.today()), sex_from_nik(number)
    except ValidationError:
        return None


def validate_kk(value: str | None) -> str:
    """Return the KK (Kartu Keluarga) number as 16 digits, or raise ValidationError.

    A KK number starts, like a NIK, with the province and regency code of the issuing
    office; digits 7-12 are the issue date (DDMMYY) and are not checked, as old cards vary.
    """
    number = _digits_only(value)
    if not number:
        raise ValidationError(_l("KK number is required."), field="kk_number")
    if not (number.isascii() and number.isdigit()):  # not other scripts' digits
        raise ValidationError(_l("KK number may contain digits only."), field="kk_number")
    if len(number) != 16:
        raise ValidationError(
            _l("KK number must be 16 digits; %(count)s were entered.", count=len(number)), field="kk_number"
        )
    if not _region_known(number):
        raise ValidationError(
            _l("The first digits of the KK number (%(code)s) are not a known province and regency code.",
               code=number[:4]),
            field="kk_number",
        )
    if number[12:] == "0000":
        raise ValidationError(_l("The last four digits of a KK number cannot be 0000."), field="kk_number")
    return number


def _region_known(number: str) -> bool:
    """True when digits 1-4 are a province + regency code that python-stdnum knows."""
    return _known_prefix(number[:4])


@functools.lru_cache(maxsize=1 << 17)
def _birth_date_valid(digits: str) -> bool:
    """True when NIK digits 7-12 (DDMMYY, day + 40 for women) are a date, by python-stdnum's rule;
    asked once per distinct six digits (at most 74,400 valid ones: every one fits), not once per NIK."""
    try:
        stdnum_nik.get_birth_date(f"000000{digits}0000")
    except StdnumError:
        return False
    return True


@functools.lru_cache(maxsize=1024)
def _known_prefix(prefix: str) -> bool:
    # A few hundred regencies: asked of python-stdnum once each (an import checks a million NIKs).
    info = numdb.get("id/loc").info(prefix)
    return len(info) > 1 and bool(info[0][1]) and bool(info[1][1])


#: Number types phonenumbers may report for an Indonesian mobile. Indonesian mobile
#: prefixes (08xx) are unambiguous, so FIXED_LINE_OR_MOBILE is not expected, but is safe.
_MOBILE_TYPES = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
#: 0812..., 62812... or +62812... whose national part is an Indonesian mobile by phonenumbers' own
#: metadata: taken without parsing (a tenth of the time; tests check it agrees with the full path).
_PLAIN_MOBILE = re.compile(
    rf"(?:\+?62|0)({PhoneMetadata.metadata_for_region('ID').mobile.national_number_pattern})", re.ASCII)


def normalize_mobile(value: str | None, field: str = "phone") -> str:
    """Return an Indonesian mobile number in E.164 (+6281234567890), or raise ValidationError.

    Accepts 0812..., 62812..., +62 812..., with spaces, dashes, dots or brackets.
    Refuses landlines (021..., 0296...), numbers of other countries and junk.
    """
    raw = (value or "").strip()
    if not raw:
        raise ValidationError(_l("Phone number is required."), field=field)
    # Without the separators a clerk writes (0812-3456 7890, (0812) 3456.7890).
    plain = _PLAIN_MOBILE.fullmatch(raw.replace(" ", "").replace("-", "").replace(".", "").replace("(", "")
                                    .replace(")", ""))
    if plain:
        return "+62" + plain.group(1)
    return _parsed_mobile(raw, field)


def _parsed_mobile(raw: str, field: str) -> str:
    """normalize_mobile() by phonenumbers' full parse: any other way of writing a number, and the refusals."""
    if any(ch.isalpha() for ch in raw):
        raise ValidationError(_l("Phone number may contain digits only."), field=field)
    candidate = raw
    compact = "".join(ch for ch in raw if ch.isdigit() or ch == "+")
    if compact.startswith("62"):
        candidate = "+" + compact
    try:
        parsed = phonenumbers.parse(candidate, "ID")
    except phonenumbers.NumberParseException:
        raise ValidationError(_l("This is not a phone number."), field=field) from None
    if parsed.country_code != 62:
        raise ValidationError(_l("Only Indonesian mobile numbers (08...) can receive our SMS."), field=field)
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(
            _l("This is not a valid Indonesian phone number (check the number of digits)."), field=field
        )
    if phonenumbers.number_type(parsed) not in _MOBILE_TYPES:
        raise ValidationError(
            _l("This is a landline number; SMS need a mobile number (08...)."), field=field
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str) -> str:
    """Return a mobile number as a clerk writes it: 0812-3456-7890."""
    national = "0" + e164[3:] if e164.startswith("+62") else e164
    return "-".join(filter(None, (national[:4], national[4:8], national[8:])))


def mask_phone(e164: str) -> str:
    """Return a phone for lists and logs: 0812****7890."""
    national = "0" + e164[3:] if e164.startswith("+62") else e164
    return national[:4] + "*" * max(len(national) - 8, 0) + national[-4:]


def format_nip(digits: str) -> str:
    """A civil servant's NIP as printed: 19760312 200501 1 004 (birth date, appointment, sex, number)."""
    if len(digits) != 18:
        return digits
    return f"{digits[:8]} {digits[8:14]} {digits[14]} {digits[15:]}"


#: A name that passes every check below at a glance (for ASCII, isalpha() is [A-Za-z]).
_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z .,'-]*")


def validate_name(value: str | None, field: str = "name") -> str:
    """Return a person's name with spaces tidied, or raise ValidationError."""
    name = " ".join((value or "").split())
    if 2 <= len(name) <= 120 and _PLAIN_NAME.fullmatch(name):  # most names: ASCII letters and spaces
        return name
    if len(name) < 2:
        raise ValidationError(_l("Name is required."), field=field)
    if len(name) > 120:
        raise ValidationError(_l("Name is too long (at most 120 characters)."), field=field)
    if any(ch.isdigit() for ch in name):
        raise ValidationError(_l("A name cannot contain digits."), field=field)
    if not all(ch.isalpha() or ch in " .,'-" for ch in name) or not name[0].isalpha():
        raise ValidationError(_l("A name has letters, spaces and . , ' - only."), field=field)
    return name
