"""DTSEN at the counter: a resident's status in one line, their family from the KK, proposals ("usul
DTSEN") of residents who are not in it, and the rule that the deceased are never sent an SMS.

The data itself comes from the district's DTSEN exports (slrt.dtsen_import); nothing here changes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from slrt import clock, codes, text, workflow
from slrt.access import INTAKE_ROLES, Actor, Coverage, check_case_scope, covers_village, in_scope, role_of
from slrt.errors import PermissionDenied, ValidationError
from slrt.extensions import db
from slrt.models import Case, DtsenProposal, Household, Region, Resident, Staff
from slrt.models.enums import DtsenStatus, EventKind

#: What a confirmation line says instead of an SMS to a resident DTSEN records as deceased.
NO_SMS_DECEASED = _l("No SMS: DTSEN records the resident as deceased.")


# ---- the SMS rule ----------------------------------------------------------------------------------

def never_texted(resident: Resident | None) -> bool:
    """Whether no SMS may ever be queued to ``resident``: DTSEN records them as deceased.

    The one rule asked by the outbox (nothing is queued, a message already waiting is dropped) and
    by the confirmation screens (:func:`no_sms_reason`).
    """
    return resident is not None and resident.dtsen_status == DtsenStatus.DECEASED


def no_sms_reason(resident: Resident | None) -> str | None:
    """Why ``resident`` gets no SMS under the DTSEN rule, in the reader's words; None when they may."""
    return str(NO_SMS_DECEASED) if never_texted(resident) else None


#: The SQL form of :func:`never_texted`, for the outbox's send-time check of many messages at once.
NEVER_TEXTED_SQL = Resident.dtsen_status == DtsenStatus.DECEASED


# ---- the one-line status -------------------------------------------------------------------------

def latest_as_of() -> date | None:
    """The date of the newest DTSEN data in the database (households' and residents'); None: never imported."""
    households = select(func.max(Household.dtsen_as_of)).scalar_subquery()
    people = select(func.max(Resident.dtsen_as_of)).scalar_subquery()
    found = [day for day in db.session.execute(select(households, people)).one() if day is not None]
    return max(found) if found else None


def _month(day: date) -> str:
    """How the status line says a data date: year and month ("2026-09")."""
    return f"{day:%Y-%m}"


def as_of(resident: Resident) -> date | None:
    """The date of the DTSEN data the resident's status comes from (theirs, else their family's)."""
    household = resident.household
    return resident.dtsen_as_of or (household.dtsen_as_of if household is not None else None)


def desil_of(resident: Resident) -> int | None:
    """The resident's family's desil (1 poorest tenth ... 10); None when not in DTSEN or not ranked."""
    if resident.dtsen_status is None or resident.household is None:
        return None
    return resident.household.desil


def is_in_dtsen(resident: Resident | None) -> bool:
    return resident is not None and resident.dtsen_status is not None


def _status_words(resident: Resident) -> list[str]:
    """Desil, status when not plainly confirmed, programmes: the parts of the line before its date."""
    desil = desil_of(resident)
    words = [gettext("DTSEN desil %(desil)s", desil=desil) if desil else gettext("DTSEN, no desil")]
    if resident.dtsen_status != DtsenStatus.CONFIRMED:
        words.append(str(DtsenStatus(resident.dtsen_status).label))
    words += [str(programme.label) for programme in resident.programmes]
    return words


def not_in_dtsen_line(latest: date | None = None, *, known: bool = False) -> str:
    """The line for someone not in DTSEN (or a NIK not registered here): they can be proposed.

    ``latest``: the newest DTSEN data's date when already read (``known``), else it is read now."""
    latest = latest if known else latest_as_of()
    if latest is None:
        return gettext("DTSEN data not imported yet")
    return gettext("Not in DTSEN (data as of %(month)s): can be proposed", month=_month(latest))


def status_line(resident: Resident | None) -> str:
    """The resident's DTSEN status in one line, in the reader's language.

    "DTSEN desil 2 · PKH · PBI-JK · data per 2026-09"; the status when not plainly confirmed
    ("· meninggal"); for someone not in DTSEN (``None``: a NIK not registered) the line of
    :func:`not_in_dtsen_line`.
    """
    if not is_in_dtsen(resident):
        return not_in_dtsen_line()
    words = _status_words(resident)
    day = as_of(resident)
    if day is not None:
        words.append(gettext("data as of %(month)s", month=_month(day)))
    return " · ".join(words)


def short_status(resident: Resident) -> str:
    """The status without its date, for a row of a family table ("DTSEN desil 2 · PKH", "not in DTSEN")."""
    return " · ".join(_status_words(resident)) if is_in_dtsen(resident) else gettext("not in DTSEN")


# ---- the family of the KK --------------------------------------------------------------------------

@dataclass(frozen=True)
class Member:
    """A member of a family as the counter sees them (no full NIK)."""

    resident_id: int
    name: str
    relation: str
    #: "45 years" for the living; the birth year when the age would mislead (no birth date kept).
    age: str
    nik_masked: str
    dtsen: str
    is_deceased: bool


def age_text(birth: date, today: date | None = None) -> str:
    today = today or clock.today()
    years = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    if years < 0:
        return gettext("born %(year)s", year=birth.year)
    return gettext("%(years)s years", years=years)


def family(household: Household | None, who: Staff | Coverage) -> list[Member]:
    """The family's members the staff member may see (their villages), head first, then by relation and age."""
    if household is None:
        return []
    people = db.session.scalars(select(Resident).where(Resident.household_id == household.id,
                                                       in_scope(who, Resident))
                                .options(joinedload(Resident.household))).all()
    people = sorted(people, key=lambda r: (r.family_relation or 9, r.birth_date, r.id))
    return [Member(resident_id=r.id, name=r.name, relation=str(r.relation.label) if r.relation else "-",
                   age=age_text(r.birth_date), nik_masked=r.nik_masked, dtsen=short_status(r),
                   is_deceased=r.is_deceased) for r in people]


# ---- proposals ("usul DTSEN") ------------------------------------------------------------------------

def _check_may_propose(case: Case, actor: Actor) -> None:
    check_case_scope(actor, case)
    if role_of(actor) not in INTAKE_ROLES:
        raise PermissionDenied(_l("Only staff may propose residents to DTSEN."))


def proposal_of(case: Case) -> DtsenProposal | None:
    return db.session.get(DtsenProposal, case.id)


def propose(case: Case, actor: Actor, note: str | None = None) -> DtsenProposal:
    """Mark ``case``'s resident as proposed for DTSEN ("usul DTSEN"), for the village's data operator.

    Refused for a resident already in DTSEN; proposing again keeps the first proposal (its date and
    who made it), so a double click or two clerks change nothing.
    """
    _check_may_propose(case, actor)
    resident = case.resident
    if is_in_dtsen(resident):
        raise ValidationError(_l("%(name)s is already in DTSEN (%(status)s): there is nothing to propose.",
                                 name=resident.name, status=status_line(resident)), field="dtsen")
    note = text.clean(note, DtsenProposal.note, field="note", label=_l("note"), multiline=True) or None
    existing = proposal_of(case)
    if existing is not None:
        return existing
    try:
        with db.session.begin_nested():
            proposal = DtsenProposal(case_id=case.id, proposed_at=clock.now(), note=note,
                                     proposed_by=actor if isinstance(actor, Staff) else None)
            db.session.add(proposal)
            workflow.record(case, "dtsen_propose", actor, kind=EventKind.NOTE, note=note)
    except IntegrityError:  # another clerk proposed the same case at the same moment: theirs stands
        return proposal_of(case)
    return proposal


def withdraw_proposal(case: Case, actor: Actor) -> bool:
    """Take back ``case``'s DTSEN proposal; False when there was none (nothing changes)."""
    _check_may_propose(case, actor)
    existing = proposal_of(case)
    if existing is None:
        return False
    with db.session.begin_nested():
        db.session.delete(existing)
        workflow.record(case, "dtsen_withdraw", actor, kind=EventKind.NOTE)
    return True


@dataclass(frozen=True)
class ProposalRow:
    """One line of the proposals' list and export (the NIK masked, as in every export; in full only in
    a manager's export with a reason)."""

    case_id: int
    resident_id: int
    ticket: str
    name: str
    nik_masked: str
    village: str
    address: str
    proposed_at: datetime
    proposed_by: str
    note: str
    #: The full NIK: only when asked for (``proposals(..., full=True)``).
    nik: str | None = None


def proposals(who: Staff | Coverage, *, village_id: int | None = None, full: bool = False) -> list[ProposalRow]:
    """The DTSEN proposals of residents of the villages ``who`` covers, by village then oldest first.

    ``village_id``: one of those villages only (a village not covered gives nothing). ``full``: with
    the full NIK too (the caller has checked slrt.access.check_full_export).
    """
    if village_id is not None and not covers_village(who, village_id):
        return []
    query = (select(DtsenProposal, Case, Resident, Region.name)
             .join(Case, Case.id == DtsenProposal.case_id).join(Resident, Resident.id == Case.resident_id)
             .join(Region, Region.id == Resident.village_id)
             .where(in_scope(who, Resident))
             .options(joinedload(DtsenProposal.proposed_by))
             .order_by(Region.name, DtsenProposal.proposed_at, DtsenProposal.case_id))
    if village_id is not None:
        query = query.where(Resident.village_id == village_id)
    return [ProposalRow(case_id=case.id, resident_id=resident.id, ticket=codes.format_code(case.ticket),
                        name=resident.name, nik_masked=resident.nik_masked, village=village, address=resident.address,
                        proposed_at=proposal.proposed_at,
                        proposed_by=proposal.proposed_by.full_name if proposal.proposed_by else "-",
                        note=proposal.note or "", nik=resident.nik if full else None)
            for proposal, case, resident, village in db.session.execute(query)]


def proposal_table(rows: list[ProposalRow], *, full: bool = False) -> list[list]:
    """The export's rows: a header in the reader's words, then one row per proposal; ``full``: the full
    NIK of rows read with it."""
    header = [str(word) for word in (_l("Ticket"), _l("Name"), "NIK", _l("Village"), _l("Address"),
                                     _l("Proposed on"), _l("Proposed by"), _l("Note"))]
    return [header, *([row.ticket, row.name, row.nik if full and row.nik else row.nik_masked, row.village,
                       row.address, clock.format_date(row.proposed_at), row.proposed_by, row.note] for row in rows)]
