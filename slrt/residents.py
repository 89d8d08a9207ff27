"""Registering and finding residents and households."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from slrt import clock, text
from slrt.access import INTAKE_ROLES, Actor, check_active, check_village_scope, role_of
from slrt.errors import PermissionDenied, ValidationError
from slrt.extensions import db
from slrt.identity import normalize_mobile, validate_kk, validate_name, validate_nik
from slrt.models import Household, Region, Resident
from slrt.models.enums import PhoneOwner, RegionLevel, Sex
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


def find_by_nik(nik: str) -> Resident | None:
    """Return the resident with this NIK (any separators), or None."""
    number = validate_nik(nik)
    return db.session.scalar(select(Resident).where(Resident.nik_hash == vault.lookup_hash("nik", number)))


def find_household_by_kk(kk_number: str) -> Household | None:
    number = validate_kk(kk_number)
    return db.session.scalar(select(Household).where(Household.kk_hash == vault.lookup_hash("kk", number)))


def register_household(*, kk_number: str, address: str, village: Region, actor: Actor,
                       dtks_id: str | None = None) -> Household:
    """Register a family by its KK number; a KK already registered is refused."""
    _check_staff(actor, village)
    number = validate_kk(kk_number)
    if find_household_by_kk(number) is not None:
        raise ValidationError(_l("This KK number is already registered."), field="kk_number")
    address = text.clean(address, Household.address, field="address", label=_l("Address"))
    if not address:
        raise ValidationError(_l("Address is required."), field="address")
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
    try:
        sex = Sex(sex)
    except ValueError:
        raise ValidationError(_l("Choose the sex."), field="sex") from None
    if birth_date is None or birth_date > clock.today():
        raise ValidationError(_l("The birth date cannot be in the future."), field="birth_date")
    number = validate_nik(nik, birth_date=birth_date, sex=sex)
    if find_by_nik(number) is not None:
        raise ValidationError(_l("A resident with this NIK is already registered."), field="nik")
    address = text.clean(address, Resident.address, field="address", label=_l("Address"))
    if not address:
        raise ValidationError(_l("Address is required."), field="address")
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


def set_phone(resident: Resident, phone: str | None, owner: PhoneOwner | str = PhoneOwner.OWN,
              owner_name: str | None = None) -> None:
    """Set (or clear, with an empty ``phone``) the resident's mobile number and whose it is."""
    if not (phone or "").strip():
        resident.phone, resident.phone_owner, resident.phone_owner_name = None, PhoneOwner.OWN, None
        return
    try:
        owner = PhoneOwner(owner)
    except ValueError:
        raise ValidationError(_l("Say whose phone this is."), field="phone_owner") from None
    owner_name = text.clean(owner_name, Resident.phone_owner_name, field="phone_owner_name", label=_l("Phone holder"))
    if owner != PhoneOwner.OWN and not owner_name:
        raise ValidationError(_l("Give the name of the phone's holder."), field="phone_owner_name")
    resident.phone = normalize_mobile(phone)
    resident.phone_owner = owner
    resident.phone_owner_name = owner_name or None if owner != PhoneOwner.OWN else None


def set_sms_opt_out(resident: Resident, opted_out: bool = True) -> None:
    """Stop (or restart) SMS to the resident: they answered STOP, or the provider says so."""
    if resident.is_sms_opted_out == opted_out:
        return
    resident.is_sms_opted_out = opted_out
    resident.sms_opted_out_at = clock.now() if opted_out else None
