"""Who may act, and on which unit's records.

An actor is a staff account, an agency contact answering by SMS, a resident answering
from their phone, or the system itself (automatic moves such as resolving a case).

The scope rule is one rule for every staff role, managers included:

- A staff member works on the records of their own unit and of every unit below it:
  a Puskesos account on that Puskesos, a secretariat account on the secretariat and all
  its Puskesos. The role says *what* they may do, the unit says *where*. A manager for
  the whole district sits in the secretariat; a manager placed in a Puskesos manages
  that Puskesos and nothing else.
- Where a record is: a case at its unit; its referrals, follow-ups and SMS with it; a
  resident or household in its village (a Puskesos covers its village and the villages
  listed for it, a secretariat every village of its area); a staff account at its unit.
  A deactivated post stays below its secretariat: its cases stay the secretariat's to see.
- What belongs to no unit (SMS without a case: agency digests, texts from unknown phones)
  and what applies everywhere (services, documents, agencies and their contacts, SMS
  templates, the sending pause) is for staff who cover every unit; only managers among
  them change it (:func:`keeps_settings`).
- Staff accounts are kept by managers, only in units they cover, and nobody gives an
  account a role above their own (:data:`ROLE_RANK`: front office = facilitator = back
  office < supervisor < manager), nor changes an account that outranks them.
- The system actor (scheduled work, the operator's CLI on the server, demo data) is not
  scoped.

Every list, export, dashboard figure and domain function asks here: :func:`in_scope` (an
SQL condition per kind of record), :func:`unit_scope` (the report figures),
:func:`staff_covers`, :func:`sees_resident` and the ``check_*`` functions (one record); who reads full
NIK and KK numbers: :func:`may_reveal_nik`, :func:`may_reveal_kk`, :func:`may_export_full`. Where a
staff member works is read in one statement (:func:`coverage`, or :func:`staff_and_coverage`
with the signed-in account); a request keeps it and passes the :class:`Coverage` on.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, ColumnElement, Select, String, false, func, null, or_, select, true
from sqlalchemy.orm import aliased, joinedload

from slrt import text
from slrt.errors import PermissionDenied, ValidationError
from slrt.extensions import db
from slrt.models import (
    AgencyContact,
    Case,
    FollowUp,
    Household,
    Referral,
    Region,
    Resident,
    SmsMessage,
    Staff,
    Unit,
    unit_village,
)
from slrt.models.enums import ROLE_LABELS, RegionLevel, Role, UnitKind
from slrt.pii import ERASED, mask_numbers

#: Pseudo-roles of actors that are not staff.
AGENCY = "agency"
RESIDENT = "resident"
SYSTEM = "system"


@dataclass(frozen=True)
class ResidentPhone:
    """A resident acting by SMS from the phone registered on their case."""

    phone: str


@dataclass(frozen=True)
class System:
    """The application acting on its own (a rule, a schedule)."""

    reason: str = "system"


SYSTEM_ACTOR = System()

Actor = Staff | AgencyContact | ResidentPhone | System

#: Staff roles grouped by what they may do (DESIGN.md, "Who uses it"); screens and domain both ask these.
ALL_ROLES = frozenset(Role)
INTAKE_ROLES = ALL_ROLES  # every staff role may register residents and open cases
REFERRAL_ROLES = frozenset({Role.BACK_OFFICE, Role.SUPERVISOR, Role.MANAGER})
OVERSIGHT_ROLES = frozenset({Role.SUPERVISOR, Role.MANAGER})
MANAGER_ROLES = frozenset({Role.MANAGER})
NO_ROLES: frozenset = frozenset()

#: Authority of each staff role: nobody gives an account a role ranked above their own.
ROLE_RANK = {Role.FRONT_OFFICE: 1, Role.FACILITATOR: 1, Role.BACK_OFFICE: 1, Role.SUPERVISOR: 2, Role.MANAGER: 3}


def role_of(actor: Actor) -> str:
    if isinstance(actor, Staff):
        return Role(actor.role)
    if isinstance(actor, AgencyContact):
        return AGENCY
    if isinstance(actor, ResidentPhone):
        return RESIDENT
    if isinstance(actor, System):
        return SYSTEM
    raise TypeError(f"not an actor: {actor!r}")


def staff_covers(staff: Staff, unit: Unit) -> bool:
    """True when ``unit`` is the staff member's own unit or below it."""
    return any(u.id == staff.unit_id for u in unit.lineage())


def check_active(actor: Actor) -> None:
    if isinstance(actor, Staff | AgencyContact) and not actor.is_active:
        raise PermissionDenied(_l("This account is not active."))


def check_case_scope(actor: Actor, case: Case) -> None:
    """Refuse a staff member acting on another unit's case (a Puskesos sees only its own)."""
    check_active(actor)
    if isinstance(actor, Staff) and not staff_covers(actor, case.unit):
        raise PermissionDenied(_l("This case belongs to another unit (%(unit)s).", unit=case.unit.name))
    if isinstance(actor, ResidentPhone) and actor.phone != case.resident.phone:
        raise PermissionDenied(_l("This phone is not the one registered on the case."))


def check_referral_scope(actor: Actor, referral: Referral) -> None:
    """Like :func:`check_case_scope`; an agency contact may answer only its own agency's referrals."""
    if isinstance(actor, AgencyContact):
        check_active(actor)
        if actor.agency_id != referral.agency_id:
            raise PermissionDenied(_l("This referral was sent to another agency."))
        return
    check_case_scope(actor, referral.case)


@dataclass(frozen=True)
class Coverage:
    """Where a staff member works, read in one statement (:func:`coverage`): ask it instead of the staff
    member when one request asks several times (a list and its pager, a dashboard's figures)."""

    #: The staff member's unit and every unit below it.
    unit_ids: frozenset[int]
    #: Whether those are all the units there are (no filter needed).
    every_unit: bool
    #: Villages of the covered Puskesos.
    villages: frozenset[int]
    #: Kemendagri codes of the covered secretariats' areas (every village under them).
    areas: tuple[str, ...]


def _covered_units_statement(unit_id) -> Select:
    """(unit id, kind, village, area code, number of all units) for ``unit_id`` and every unit below it.

    ``unit_id`` is a value or a scalar subquery: a recursive query walks the tree in one statement.
    """
    top = select(Unit.id, Unit.kind, Unit.region_id).where(Unit.id == unit_id).cte("covered", recursive=True)
    below = aliased(Unit, name="below")
    tree = top.union(select(below.id, below.kind, below.region_id).where(below.parent_id == top.c.id))
    total = select(func.count()).select_from(Unit).scalar_subquery()
    own = (select(tree.c.id, tree.c.kind, tree.c.region_id, Region.code, total.label("total")).select_from(tree)
           .outerjoin(Region, Region.id == tree.c.region_id))
    # The more villages a post serves (a Puskesos for a group of villages): one row each.
    more = (select(tree.c.id, tree.c.kind, unit_village.c.region_id, null(), total)
            .join(unit_village, unit_village.c.unit_id == tree.c.id))
    return own.union_all(more)


def _coverage_from(rows) -> Coverage:
    """A Coverage from rows of (unit id, kind, village, area code, number of all units)."""
    rows = [tuple(row) for row in rows]
    ids = frozenset(unit_id for unit_id, *_rest in rows)
    return Coverage(
        unit_ids=ids,
        every_unit=bool(rows) and len(ids) >= rows[0][4],
        villages=frozenset(region for _id, kind, region, _code, _n in rows if kind == UnitKind.PUSKESOS),
        areas=tuple(sorted({code for _id, kind, _region, code, _n in rows if kind == UnitKind.SECRETARIAT and code})))


def coverage(staff: Staff) -> Coverage:
    """The units the staff member covers (their unit and every unit below it), in one statement."""
    return _coverage_from(db.session.execute(_covered_units_statement(staff.unit_id)))


def staff_and_coverage(fs_uniquifier: str) -> tuple[Staff, Coverage] | None:
    """The account signed in under ``fs_uniquifier``, its unit and its coverage, in one statement
    (what every staff page needs first); None when no account has it."""
    anchor = select(Staff.unit_id).where(Staff.fs_uniquifier == fs_uniquifier).scalar_subquery()
    covered = _covered_units_statement(anchor).subquery()
    rows = db.session.execute(
        select(Staff, covered).join(covered, true()).where(Staff.fs_uniquifier == fs_uniquifier)
        .options(joinedload(Staff.unit))).all()
    if not rows:
        return None
    return rows[0][0], _coverage_from(row[1:] for row in rows)


def _cover(who: Staff | Coverage) -> Coverage:
    return who if isinstance(who, Coverage) else coverage(who)


def covered_units(staff: Staff) -> list[Unit]:
    """The staff member's unit and every unit below it (a secretariat covers its Puskesos), theirs first."""
    ids = coverage(staff).unit_ids
    return sorted(db.session.scalars(select(Unit).where(Unit.id.in_(ids))), key=lambda u: (u.id != staff.unit_id, u.id))


def covers_all_units(who: Staff | Coverage) -> bool:
    """True when every unit is the staff member's own or below it (the district secretariat's staff)."""
    return _cover(who).every_unit


def unit_scope(who: Staff | Coverage) -> list[int] | None:
    """Ids of the units whose records the staff member sees; None when that is every unit (no filter)."""
    cover = _cover(who)
    return None if cover.every_unit else sorted(cover.unit_ids)


def _area_villages(areas: tuple[str, ...]) -> Select:
    return select(Region.id).where(Region.level == RegionLevel.VILLAGE, or_(
        *(Region.code.startswith(f"{code}.", autoescape=True) for code in areas)))


def covered_village_ids(who: Staff | Coverage) -> set[int] | None:
    """Villages whose residents and households the staff member may see; None means every village.

    A Puskesos covers its village, a secretariat every village of its area (by Kemendagri code).
    """
    cover = _cover(who)
    if cover.every_unit:
        return None
    villages = set(cover.villages)
    if cover.areas:
        villages.update(db.session.scalars(_area_villages(cover.areas)))
    return villages


def village_choices(who: Staff | Coverage) -> Select:
    """The active villages where the staff member registers people (their posts' villages and their
    secretariats' areas), for a picker: not every village of the country when the whole list is loaded."""
    cover = _cover(who)
    conditions = [Region.code.startswith(f"{code}.", autoescape=True) for code in cover.areas]
    if cover.villages:
        conditions.append(Region.id.in_(cover.villages))
    return select(Region).where(Region.level == RegionLevel.VILLAGE, Region.is_active,
                                or_(*conditions) if conditions else false())


def covers_village(who: Staff | Coverage, village_id: int | None) -> bool:
    villages = covered_village_ids(who)
    return villages is None or village_id in villages


def sees_resident(who: Staff | Coverage, resident: Resident) -> bool:
    """Whether the staff member may see (and act for) ``resident``: one of the villages they cover."""
    return covers_village(who, resident.village_id)


#: Roles that may reveal a resident's full NIK or a family's full KK number ("Tampilkan NIK",
#: "Tampilkan KK" on the resident's and the household's pages; every click audited) and print it on
#: the A4 referral letter to the agency (audited as a reveal). Lists, the slip handed to the resident
#: and exports show them masked. The front office finds a resident by the NIK on the KTP in hand and
#: never needs to read one back.
REVEAL_ROLES = frozenset({Role.FACILITATOR, Role.BACK_OFFICE, Role.SUPERVISOR, Role.MANAGER})


def may_reveal_nik(staff: Staff, who: Staff | Coverage, resident: Resident) -> bool:
    """Whether ``staff`` may reveal ``resident``'s full NIK: a role that may, and one of their villages.

    ``who``: the staff member's :class:`Coverage` when it is at hand, else the staff member."""
    return (isinstance(staff, Staff) and staff.is_active and Role(staff.role) in REVEAL_ROLES
            and resident.nik_masked != ERASED and sees_resident(who, resident))  # an erased NIK: nothing to show


def may_reveal_kk(staff: Staff, who: Staff | Coverage, household: Household) -> bool:
    """Whether ``staff`` may reveal ``household``'s full KK number (the rule of :func:`may_reveal_nik`)."""
    return (isinstance(staff, Staff) and staff.is_active and Role(staff.role) in REVEAL_ROLES
            and household.kk_masked != ERASED and covers_village(who, household.village_id))


def check_reveal(actor: Actor, record: Resident | Household) -> None:
    """Refuse revealing a full NIK (of a resident) or KK number (of a household) to who may not."""
    check_active(actor)
    allowed = (may_reveal_nik(actor, actor, record) if isinstance(record, Resident)
               else may_reveal_kk(actor, actor, record))
    if not allowed:
        raise PermissionDenied(_l("Your role may not see full NIK or KK numbers."))


#: Roles that may export full NIK and KK numbers (with a reason, audited); everyone else's exports mask them.
FULL_EXPORT_ROLES = MANAGER_ROLES
#: The reason given for a full export: at least this many characters, at most the second.
FULL_EXPORT_REASON_LENGTH = (10, 300)
_REASON = Column("reason", String(FULL_EXPORT_REASON_LENGTH[1]))


def may_export_full(staff: Staff) -> bool:
    """Whether ``staff`` may ask an export for full NIK and KK numbers (with a reason)."""
    return isinstance(staff, Staff) and staff.is_active and Role(staff.role) in FULL_EXPORT_ROLES


def check_full_export(actor: Actor, reason: str | None) -> str:
    """The reason for exporting full NIK and KK numbers, cleaned; refused to a role that may not, or
    without a reason (which the audit keeps with the export)."""
    check_active(actor)
    if not may_export_full(actor):
        raise PermissionDenied(_l("Only a manager may export full NIK and KK numbers."))
    reason = text.clean(reason, _REASON, field="reason", label=_l("Reason"))
    if len(reason) < FULL_EXPORT_REASON_LENGTH[0]:
        raise ValidationError(_l("Say why the full numbers are needed (at least %(count)s characters).",
                                 count=FULL_EXPORT_REASON_LENGTH[0]), field="reason")
    return mask_numbers(reason)  # the audit keeps it for good: no NIK, KK or phone number in it


#: Roles that see who viewed or changed a resident's data ("Riwayat akses" on the resident's page).
ACCESS_HISTORY_ROLES = OVERSIGHT_ROLES


def sees_access_history(staff: Staff) -> bool:
    """Whether ``staff`` sees a resident's access history (on the page of a resident they may see)."""
    return isinstance(staff, Staff) and staff.is_active and Role(staff.role) in ACCESS_HISTORY_ROLES


def reads_audit_log(staff: Staff, cover: Coverage | None = None) -> bool:
    """Whether ``staff`` reads and exports the whole audit log: a manager who covers every unit (the
    log names every unit's staff and residents). Everyone sees their own activity on their account page.

    ``cover``: the staff member's :class:`Coverage` when it is at hand."""
    return (isinstance(staff, Staff) and staff.is_active and Role(staff.role) == Role.MANAGER
            and covers_all_units(cover or staff))


def in_scope(who: Staff | Coverage, model: type) -> ColumnElement[bool]:
    """An SQL condition on ``model``: the rows the staff member may see (the rule above).

    For Case, Referral, FollowUp, SmsMessage, Staff, Resident and Household. Pass the
    :class:`Coverage` when it is at hand: a staff member costs one more statement.
    """
    cover = _cover(who)
    if cover.every_unit:
        return true()
    if model in (Resident, Household):
        village = model.village_id.in_(cover.villages)
        return or_(village, model.village_id.in_(_area_villages(cover.areas))) if cover.areas else village
    ids = sorted(cover.unit_ids)
    if model is Case:
        return Case.unit_id.in_(ids)
    if model is Referral:
        return Referral.case.has(Case.unit_id.in_(ids))
    if model is FollowUp:
        return FollowUp.unit_id.in_(ids)
    if model is SmsMessage:  # an SMS without a case belongs to no unit: for those who cover every unit
        return SmsMessage.case.has(Case.unit_id.in_(ids))
    if model is Staff:
        return Staff.unit_id.in_(ids)
    raise TypeError(f"no scope rule for {model!r}")


def check_unit_scope(actor: Actor, unit: Unit) -> None:
    """Refuse a staff member acting in a unit that is neither theirs nor below theirs."""
    check_active(actor)
    if isinstance(actor, Staff) and not staff_covers(actor, unit):
        raise PermissionDenied(_l("%(unit)s is not one of your units.", unit=unit.name))


def check_village_scope(actor: Actor, village: Region | None) -> None:
    """Refuse a staff member registering people in a village their units do not serve."""
    check_active(actor)
    if isinstance(actor, Staff) and village is not None and not covers_village(actor, village.id):
        raise PermissionDenied(_l("%(village)s is not served by your unit.", village=village.name))


def keeps_settings(staff: Staff, cover: Coverage | None = None) -> bool:
    """Managers who cover every unit keep what applies everywhere (catalogue, templates, sending).

    ``cover``: the staff member's :class:`Coverage` when it is at hand."""
    return (isinstance(staff, Staff) and staff.is_active and Role(staff.role) == Role.MANAGER
            and covers_all_units(cover or staff))


def check_keeps_settings(actor: Actor) -> None:
    check_active(actor)
    if isinstance(actor, System):
        return
    if not (isinstance(actor, Staff) and keeps_settings(actor)):
        raise PermissionDenied(_l("Only a manager of the whole district may do this."))


def may_grant(staff: Staff, role: Role | str) -> bool:
    """Whether ``staff`` may give an account ``role``, or change an account that holds it.

    Roles ranked below their own; the manager role only by a manager who covers every unit.
    """
    own, wanted = Role(staff.role), Role(role)
    if ROLE_RANK[wanted] < ROLE_RANK[own]:
        return True
    return own == wanted == Role.MANAGER and covers_all_units(staff)


def check_manages_staff(actor: Actor, *, unit: Unit, role: Role | str) -> None:
    """Refuse an account change (create, edit, (de)activate, reset) outside the actor's units or rank.

    Called with the account's unit and role before the change and again with the new ones.
    """
    if isinstance(actor, System):
        return
    check_active(actor)
    if not isinstance(actor, Staff) or Role(actor.role) != Role.MANAGER:
        raise PermissionDenied(_l("Only a manager may manage staff accounts."))
    if not staff_covers(actor, unit):
        raise PermissionDenied(_l("%(unit)s is not one of your units.", unit=unit.name))
    if not may_grant(actor, role):
        raise PermissionDenied(_l("You may not give or change the role %(role)s.", role=ROLE_LABELS[Role(role)]))
