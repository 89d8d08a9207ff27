"""Registering and finding residents and households."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import aliased

from slrt import clock, dtsen, text
from slrt.access import INTAKE_ROLES, Actor, check_active, check_village_scope, covers_village, role_of
from slrt.errors import PermissionDenied, ValidationError
from slrt.extensions import db
from slrt.identity import mask_phone, normalize_mobile, validate_kk, validate_name, validate_nik
from slrt.models import Household, Region, Resident, ResidentNameWord, Staff
from slrt.models.enums import PhoneOwner, RegionLevel, Sex
from slrt.models.people import name_words
from slrt.pii import vault


def _check_staff(actor: Actor, village: Region | None) -> None:
    check_active(actor)
    if role_of(actor) not in INTAKE_ROLES:
        raise PermissionDenied(_l("Only staff may register residents."))
    check_village_scope(actor, village)  # a Puskesos registers people of its own village


def _village(village: Region | None) -> Region:
    if village is None or village.level != RegionLevel.VILLAGE:
        raise ValidationError(_l("Choose the village (desa/kelurahan)."), field="village")
    return village


def _address(address: str | None, column) -> str:
    address = text.clean(address, column, field="address", label=_l("Address"))
    if not address:
        raise ValidationError(_l("Address is required."), field="address")
    return address


def check_resident_scope(actor: Actor, resident: Resident) -> None:
    """Refuse a staff member acting on a resident of a village their units do not serve."""
    check_active(actor)
    if isinstance(actor, Staff) and not covers_village(actor, resident.village_id):
        raise PermissionDenied(_l("This resident is registered in another village."), field="nik")


def check_household_scope(actor: Actor, household: Household) -> None:
    """Refuse a staff member acting on a family of a village their units do not serve."""
    check_active(actor)
    if isinstance(actor, Staff) and not covers_village(actor, household.village_id):
        raise PermissionDenied(_l("This KK number is registered in another village."), field="kk_number")


def find_by_nik(nik: str) -> Resident | None:
    """Return the resident with this NIK (any separators), or None."""
    number = validate_nik(nik)
    return db.session.scalar(select(Resident).where(Resident.nik_hash == vault.lookup_hash("nik", number)))


def named(text: str) -> Select | None:
    """Ids of the residents with, for each word typed, a word of their name starting with it:
    "riyanto", "Riy" and "slamet r" all find Slamet Riyanto. None when nothing typed is a word.

    Each word is a range of the name-word index (bytewise, so ``[riy, riz)``): an index
    lookup on SQLite and PostgreSQL, whatever the number of residents.
    """
    words = name_words(text)
    if not words:
        return None

    def starts(row, typed: str):
        return and_(row.word >= typed, row.word < typed[:-1] + chr(ord(typed[-1]) + 1))

    # The other words as EXISTS on the same resident, not an INTERSECT of whole ranges: the
    # database starts from the rarest word ("1234" before "warga": 0.4 ms, not 800 at 250,000 names).
    first = aliased(ResidentNameWord)
    found = select(first.resident_id).where(starts(first, words[0]))
    for typed in words[1:]:
        other = aliased(ResidentNameWord)
        found = found.where(exists().where(other.resident_id == first.resident_id, starts(other, typed)))
    return found


def find_household_by_kk(kk_number: str) -> Household | None:
    number = validate_kk(kk_number)
    return db.session.scalar(select(Household).where(Household.kk_hash == vault.lookup_hash("kk", number)))


def find_for_intake(nik: str, *, actor: Actor) -> Resident | None:
    """The resident with this NIK, or None; one of a village the actor's units do not serve is refused."""
    resident = find_by_nik(nik)
    if resident is not None:
        check_resident_scope(actor, resident)
    return resident


def household_for_intake(kk_number: str | None, *, address: str, village: Region | None,
                         actor: Actor) -> Household | None:
    """The family of the KK number typed at intake: found, or registered now; None if left empty.

    A family registered in a village the actor's units do not serve is refused.
    """
    if not (kk_number or "").strip():
        return None
    household = find_household_by_kk(kk_number)
    if household is None:
        return register_household(kk_number=kk_number, address=address, village=village, actor=actor)
    check_household_scope(actor, household)
    return household


def register_household(*, kk_number: str, address: str, village: Region, actor: Actor,
                       dtks_id: str | None = None) -> Household:
    """Register a family by its KK number; a KK already registered is refused."""
    _check_staff(actor, village)
    number = validate_kk(kk_number)
    if find_household_by_kk(number) is not None:
        raise ValidationError(_l("This KK number is already registered."), field="kk_number")
    address = _address(address, Household.address)
    household = Household(address=address, village=_village(village),
                          dtks_id=text.clean(dtks_id, Household.dtks_id, field="dtks_id", label="DTKS") or None)
    household.kk_number = number
    db.session.add(household)
    db.session.flush()
    return household


def register_resident(
    *,
    nik: str,
    name: str,
    sex: Sex | str,
    birth_date: date,
    village: Region,
    address: str,
    actor: Actor,
    phone: str | None = None,
    phone_owner: PhoneOwner | str = PhoneOwner.OWN,
    phone_owner_name: str | None = None,
    household: Household | None = None,
    language: str = "id",
) -> Resident:
    """Register a resident after checking every field; nothing is saved if one is wrong."""
    _check_staff(actor, village)
    sex = _sex(sex)
    _birth_date(birth_date)
    number = validate_nik(nik, birth_date=birth_date, sex=sex)
    if find_by_nik(number) is not None:
        raise ValidationError(_l("A resident with this NIK is already registered."), field="nik")
    address = _address(address, Resident.address)
    resident = Resident(
        name=validate_name(name),
        sex=sex,
        birth_date=birth_date,
        village=_village(village),
        address=address,
        household=household,
        language=language if language in ("id", "en") else "id",
    )
    resident.nik = number
    set_phone(resident, phone, phone_owner, phone_owner_name)
    db.session.add(resident)
    db.session.flush()
    return resident


def _sex(sex: Sex | str | None) -> Sex:
    try:
        return Sex(sex)
    except ValueError:
        raise ValidationError(_l("Choose the sex."), field="sex") from None


def _birth_date(birth_date: date | None) -> date:
    if birth_date is None:
        raise ValidationError(_l("Enter the birth date."), field="birth_date")
    if birth_date > clock.today():
        raise ValidationError(_l("The birth date cannot be in the future."), field="birth_date")
    return birth_date


def registration_errors(*, nik: str, name: str | None, sex: str | None, birth_date: date | None,
                        village: Region | None, address: str | None, phone: str | None,
                        phone_owner: str | None, phone_owner_name: str | None,
                        kk_number: str | None) -> dict[str, str]:
    """Every problem of a new resident's fields at once, by field (empty when all are right).

    The same checks as :func:`register_resident`, each on its own, so the intake form can
    say all of them beside their fields in one go instead of one per try.
    """
    errors: dict[str, str] = {}

    def check(field: str, run) -> object:
        try:
            return run()
        except ValidationError as exc:
            errors.setdefault(exc.field or field, str(exc))
            return None

    checked_sex = check("sex", lambda: _sex(sex))
    checked_birth = check("birth_date", lambda: _birth_date(birth_date))
    check("nik", lambda: validate_nik(nik, birth_date=checked_birth, sex=checked_sex))
    check("name", lambda: validate_name(name))
    check("village", lambda: _village(village))
    check("address", lambda: _address(address, Resident.address))
    if (kk_number or "").strip():
        check("kk_number", lambda: validate_kk(kk_number))
    if (phone or "").strip():
        check("phone", lambda: normalize_mobile(phone))
        check("phone_owner", lambda: _phone_holder(phone_owner or PhoneOwner.OWN, phone_owner_name))
    return errors


def update_resident(resident: Resident, *, actor: Actor, name: str, address: str, phone: str | None = None,
                    phone_owner: PhoneOwner | str = PhoneOwner.OWN, phone_owner_name: str | None = None,
                    language: str | None = None) -> Resident:
    """Change a resident's name, address, phone or SMS language, checked as at registration."""
    _check_staff(actor, resident.village)
    resident.name = validate_name(name)
    resident.address = _address(address, Resident.address)
    set_phone(resident, phone, phone_owner, phone_owner_name)
    if language:
        resident.language = language if language in ("id", "en") else "id"
    db.session.flush()
    return resident


def set_phone(resident: Resident, phone: str | None, owner: PhoneOwner | str = PhoneOwner.OWN,
              owner_name: str | None = None) -> None:
    """Set (or clear, with an empty ``phone``) the resident's mobile number and whose it is."""
    if not (phone or "").strip():
        resident.phone, resident.phone_owner, resident.phone_owner_name = None, PhoneOwner.OWN, None
        return
    owner, owner_name = _phone_holder(owner, owner_name)
    resident.phone = normalize_mobile(phone)
    resident.phone_owner = owner
    resident.phone_owner_name = owner_name


def _phone_holder(owner: PhoneOwner | str | None, owner_name: str | None) -> tuple[PhoneOwner, str | None]:
    """Whose phone it is and, when not the resident's own, the holder's name (required then)."""
    try:
        owner = PhoneOwner(owner)
    except ValueError:
        raise ValidationError(_l("Say whose phone this is."), field="phone_owner") from None
    owner_name = text.clean(owner_name, Resident.phone_owner_name, field="phone_owner_name", label=_l("Phone holder"))
    if owner != PhoneOwner.OWN and not owner_name:
        raise ValidationError(_l("Give the name of the phone's holder."), field="phone_owner_name")
    return owner, (owner_name or None if owner != PhoneOwner.OWN else None)


def sms_line(resident: Resident, says) -> str:
    """A line of a confirmation screen: where the resident's SMS goes and what it ``says``
    ("SMS ke warga (0812****7890): kasus sudah ditutup."), or why there is none."""
    if (barred := dtsen.no_sms_reason(resident)) is not None:
        return barred
    if not resident.phone:
        return str(_l("No SMS: the resident has no mobile number (the facilitator tells them)."))
    if resident.is_sms_opted_out:
        return str(_l("No SMS: the resident asked for none (STOP)."))
    if resident.phone_owner == PhoneOwner.OWN:
        to = _l("SMS to the resident (%(phone)s)", phone=mask_phone(resident.phone))
    else:
        to = _l("SMS to %(holder)s, the phone the resident gave (%(phone)s)",
                holder=resident.phone_owner_name or "-", phone=mask_phone(resident.phone))
    return f"{to}: {says}"


def set_sms_opt_out(resident: Resident, opted_out: bool = True) -> None:
    """Stop (or restart) SMS to the resident: they answered STOP, or the provider says so."""
    if resident.is_sms_opted_out == opted_out:
        return
    resident.is_sms_opted_out = opted_out
    resident.sms_opted_out_at = clock.now() if opted_out else None


def missing_references() -> tuple[int, int]:
    """How many residents name a household, and how many a village, that is not in the database.

    Both are kept by the application, not by foreign keys (migration 0026): none, unless rows were
    deleted by hand. ``flask slrt check`` reports them."""
    households = db.session.scalar(select(func.count()).select_from(Resident).where(
        Resident.household_id.is_not(None), ~exists().where(Household.id == Resident.household_id)))
    villages = db.session.scalar(select(func.count()).select_from(Resident).where(
        ~exists().where(Region.id == Resident.village_id)))
    return households, villages
