"""The demo builder: turns the district, people and stories into rows, through the domain.

Everything that has a domain function goes through it (create_staff, register_resident,
open_case, refer, accept, ..., and for the SMS outbox record_sent and record_status), with
the domain clock stopped at the moment each step happened (``clock.stopped_at``), so due
dates, timelines and outbox rows are exactly what the workflow would have written. The district
itself is set up as a real one is: ``setup-district 33.16`` (slrt.regions) from the official
region list, then the demo's set-up spreadsheets (slrt/demo/setup/) through the set-up import.

``seed`` flushes and never commits: the CLI command is the unit of work.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select

from slrt import cases, clock, outbox, referrals, regions, residents, setup_import, units
from slrt import staff as staff_ops
from slrt.access import SYSTEM_ACTOR, Actor, ResidentPhone
from slrt.demo.data import (
    CANCEL_REASONS,
    CASE_CANCEL_REASONS,
    CLOSE_NOTES,
    DEMO_AUTHENTICATOR_KEY,
    DEMO_LOGINS,
    POST_OF_VILLAGE,
    REGENCY,
    REJECT_REASONS,
    SECRETARIAT_ADDRESS,
    SECRETARIAT_HEAD,
    SECRETARIAT_NAME,
    SECRETARIAT_PHONE,
    SETUP_DIR,
    SETUP_FILES,
)
from slrt.demo.people import Family, Identifiers, Person, draw_people
from slrt.demo.stories import SECRETARIAT, Calendar, Plan, Step, Storyteller
from slrt.extensions import db
from slrt.models import (
    Agency,
    AgencyContact,
    Case,
    FollowUp,
    Household,
    Referral,
    Region,
    Resident,
    Service,
    SmsMessage,
    Staff,
    Unit,
)
from slrt.models.enums import (
    REFERRAL_ACTIVE,
    CaseStatus,
    Channel,
    Domain,
    Outcome,
    ReferralStatus,
    Role,
    SmsAudience,
    SmsDirection,
    SmsStatus,
    UnitKind,
)
from slrt.ports import GatewayError

#: The gateway the demo's history went out through (the embedded default's).
GATEWAY = "console"


class DistrictBuilder:
    """Builds the demo district in the current session, one step of history at a time."""

    def __init__(self, residents: int, random_seed: int) -> None:
        self.size = residents
        #: Separate streams, so people do not change with the date the demo is built on.
        self.ids = Identifiers(random.Random(f"{random_seed}:people"))
        self.rng = random.Random(f"{random_seed}:history")
        self.now = clock.now()
        self.calendar = Calendar(self.now, self.rng)
        #: When the district set up SLRT: units, staff and catalogue date from then.
        self.start = self.calendar.working_day_back(380)
        self.regions: dict[str, Region] = {}
        self.units: dict[str, Unit] = {}
        self.staff: dict[str, Staff] = {}
        self.agencies: dict[str, Agency] = {}
        self.services: dict[str, Service] = {}
        self.people: list[Person] = []
        self.families: list[Family] = []
        self.resident_rows: list[Resident | None] = []

    # ----------------------------------------------------------------- set-up

    def set_up(self) -> None:
        """Set the district up as a real one is: the regency from the official list, its secretariat and
        the default catalogue (setup-district), then the posts, agencies, contacts, services' default
        agencies and staff from the demo's spreadsheets (the set-up import). The demo logins get their
        public passwords instead of one-time ones; the other accounts keep passwords nobody knows."""
        made = regions.setup_district(REGENCY, secretariat=SECRETARIAT_NAME, address=SECRETARIAT_ADDRESS,
                                      phone=SECRETARIAT_PHONE)
        units.set_head(made.secretariat, name=SECRETARIAT_HEAD[0], nip=SECRETARIAT_HEAD[1], actor=SYSTEM_ACTOR)
        for name, kind in SETUP_FILES:
            result = setup_import.import_setup((SETUP_DIR / name).read_bytes(), filename=name, actor=SYSTEM_ACTOR,
                                               kind=kind)
            if result.count(setup_import.REFUSED):
                raise RuntimeError(f"demo set-up file {name}: " + "; ".join(setup_import.describe(result)))
        self.regions = {r.code: r for r in db.session.scalars(select(Region).where(Region.code.like(f"{REGENCY}.%")))}
        self.units = {SECRETARIAT: made.secretariat, **{
            u.name: u for u in db.session.scalars(select(Unit).where(Unit.parent_id == made.secretariat.id))}}
        self.staff = {s.username: s for s in db.session.scalars(select(Staff))}
        for role, username, password in DEMO_LOGINS:
            staff_ops.change_password(self.staff[username], password)
            if role == Role.MANAGER:  # managers sign in with an authenticator code: the demo's key is printed
                staff_ops.set_authenticator_key(self.staff[username], DEMO_AUTHENTICATOR_KEY)
        self.agencies = {a.short_name: a for a in db.session.scalars(select(Agency))}
        self.services = {s.code: s for s in db.session.scalars(select(Service))}
        # residents draw their phones after: none gets a number of staff or of an agency contact
        self.ids.phones.update(s.phone for s in self.staff.values() if s.phone)
        self.ids.phones.update(db.session.scalars(select(AgencyContact.phone)))

    def staff_of(self, unit: str, *roles: Role) -> list[Staff]:
        """Return the staff of ``unit`` with one of ``roles``, in a stable order."""
        return [s for s in self.staff.values() if s.unit is self.units[unit] and s.role in roles]

    # ----------------------------------------------------------------- people and stories

    def draw(self) -> list[Plan]:
        """Draw the people, then every case's story for them."""
        self.people, self.families = draw_people(self.size, clock.to_local(self.now).year, self.ids)
        return Storyteller(self.calendar, self.people).plan_cases(self.size)

    def register_people(self) -> None:
        """Register households and residents, each shortly before their first case."""
        rng = self.rng
        for person in self.people:
            first = person.first_case_at
            if first is not None and rng.random() < 0.7:
                person.registered_at = first - timedelta(minutes=rng.randint(5, 40))  # in the same visit
            else:
                newest = (self.now - first).days + 1 if first is not None else 0
                person.registered_at = self.calendar.working_day_back(rng.randint(newest, max(newest, 375)))
        households: dict[int, Household] = {}
        order = sorted(range(len(self.people)), key=lambda i: self.people[i].registered_at)
        self.resident_rows = [None] * len(self.people)
        for index in order:
            person = self.people[index]
            unit = POST_OF_VILLAGE.get(person.village, SECRETARIAT)
            clerk = rng.choice(self.staff_of(unit, Role.FRONT_OFFICE, Role.FACILITATOR))
            village = self.regions[person.village]
            household = None
            if person.household is not None:
                household = households.get(person.household)
                if household is None:
                    family = self.families[person.household]
                    with clock.stopped_at(person.registered_at - timedelta(minutes=2)):
                        household = residents.register_household(
                            kk_number=family.kk_number, address=family.address, village=village, actor=clerk,
                            dtks_id=family.dtks_id)
                    households[person.household] = household
            with clock.stopped_at(person.registered_at):
                self.resident_rows[index] = residents.register_resident(
                    nik=person.nik, name=person.name, sex=person.sex, birth_date=person.birth_date,
                    village=village, address=person.address, actor=clerk, phone=person.phone,
                    phone_owner=person.phone_owner, phone_owner_name=person.phone_owner_name,
                    household=household)

    # ----------------------------------------------------------------- history

    def run(self, plans: Sequence[Plan]) -> None:
        """Replay every case's story through the domain functions, each step at its moment."""
        for plan in plans:
            case = self._open(plan)
            made: dict[int, Referral] = {}
            for step in plan.steps:
                with clock.stopped_at(step.at):
                    self._apply(plan, case, made, step)

    def _open(self, plan: Plan) -> Case:
        rng = self.rng
        if plan.channel == Channel.OUTREACH and plan.unit != SECRETARIAT:
            opener = rng.choice(self.staff_of(plan.unit, Role.FACILITATOR))
        elif plan.unit == SECRETARIAT:
            role = Role.FRONT_OFFICE if rng.random() < 0.75 else Role.BACK_OFFICE
            opener = rng.choice(self.staff_of(plan.unit, role))
        else:
            opener = rng.choice(self.staff_of(plan.unit, Role.FRONT_OFFICE, Role.FACILITATOR))
        if plan.unit == SECRETARIAT:
            assignee = rng.choice(self.staff_of(plan.unit, Role.BACK_OFFICE))
        else:
            assignee = rng.choice(self.staff_of(plan.unit, Role.FACILITATOR))
        with clock.stopped_at(plan.opened_at):
            return cases.open_case(
                resident=self.resident_rows[plan.person], unit=self.units[plan.unit], channel=plan.channel,
                summary=plan.summary, needs=[self.services[s.code] for s in plan.services], actor=opener,
                urgency=plan.urgency, assignee=assignee)

    def _apply(self, plan: Plan, case: Case, made: dict[int, Referral], step: Step) -> None:
        """Make one step of a case's story with the domain function that does it."""
        rng = self.rng
        back_office = self.staff_of(SECRETARIAT, Role.BACK_OFFICE)
        overseer = self.staff["supervisor"] if rng.random() < 0.8 else self.staff["manager"]
        if step.action == "refer":
            self._refer(plan, case, made, step.need, rng.choice(back_office) if rng.random() < 0.9 else overseer)
            return
        if step.action == "close":
            outcome = _outcome(case)
            cases.close_case(case, outcome=outcome, actor=overseer, note=rng.choice(CLOSE_NOTES[outcome]))
            return
        if step.action == "cancel_case":
            if case.status in (CaseStatus.OPEN, CaseStatus.IN_PROGRESS):
                cases.cancel_case(case, reason=step.note or CASE_CANCEL_REASONS[0], actor=overseer)
            return
        if step.action == "reassign":
            if case.status in (CaseStatus.CLOSED, CaseStatus.CANCELLED):
                return
            others = [s for s in self.staff_of(plan.unit, Role.FACILITATOR, Role.BACK_OFFICE)
                      if s is not case.assignee] or [s for s in back_office if s is not case.assignee]
            if others:
                cases.reassign_case(case, assignee=rng.choice(others), actor=overseer)
            return
        referral = made.get(step.need)
        if referral is None or case.status == CaseStatus.CANCELLED:
            return
        actor = self._answerer(referral, step.by, back_office)
        if step.action == "accept":
            referrals.accept(referral, actor=actor)
        elif step.action == "in_process":
            referrals.mark_in_process(referral, actor=actor, note=step.note)
        elif step.action == "complete":
            referrals.complete(referral, actor=actor, note=step.note)
        elif step.action == "reject":
            referrals.reject(referral, reason=step.note or REJECT_REASONS[Domain.HEALTH][0], actor=actor)
        elif step.action == "cancel":
            referrals.cancel_referral(referral, reason=step.note or CANCEL_REASONS[0], actor=actor)
        elif step.action == "reopen":
            referrals.reopen(referral, actor=actor, note=step.note)
        else:
            raise ValueError(f"unknown demo step {step.action!r}")

    def _refer(self, plan: Plan, case: Case, made: dict[int, Referral], need: int, actor: Staff) -> None:
        rng = self.rng
        spec = plan.services[need]
        documents = list(spec.documents)
        if "FC_KTP" in documents and "FC_AKTA" in documents:
            # either is enough: most bring the KTP/KIA, children the birth certificate
            documents.remove("FC_AKTA" if rng.random() < 0.7 else "FC_KTP")
        if rng.random() < 0.15:
            documents.remove(rng.choice(documents))
        agency = None
        if spec.other_agency and rng.random() < 0.1:
            agency = self.agencies[spec.other_agency]
        try:
            made[need] = referrals.refer(case, service=self.services[spec.code], actor=actor, agency=agency,
                                         documents_checked=documents)
        except referrals.DuplicateReferral:
            # the plan avoids this; should it happen, staff confirm as they would on screen
            made[need] = referrals.refer(case, service=self.services[spec.code], actor=actor, agency=agency,
                                         documents_checked=documents, confirm_duplicate=True)

    def _answerer(self, referral: Referral, by: str, back_office: list[Staff]) -> Actor:
        """Return who answers: a contact of the agency by SMS, back-office staff, or the resident."""
        if by == "resident" and referral.case.resident.phone:
            return ResidentPhone(referral.case.resident.phone)
        if by == "contact":
            contacts = [c for c in referral.agency.contacts if c.is_active and c.receives_reminders]
            if contacts:
                return self.rng.choice(contacts)
        return self.rng.choice(back_office)

    # ----------------------------------------------------------------- outbox

    def settle_outbox(self) -> None:
        """Record outbox rows older than two days as the gateway took and reported them at the time.

        Through the outbox's own recording functions, each at its moment: accepted a few
        seconds after it was queued, then (mostly) delivered, a few recent ones to a number
        that cannot receive, a few with no receipt ever. Receipts are awaited for the last
        month's resident notices only, so the facilitators' call list is this month's, not a
        year's. Recent rows stay pending for the demo's own worker to send.
        """
        cutoff = self.now - timedelta(days=2)
        rows = db.session.execute(
            select(SmsMessage.id, SmsMessage.created_at, SmsMessage.audience)
            .where(SmsMessage.direction == SmsDirection.OUTBOUND, SmsMessage.status == SmsStatus.PENDING,
                   SmsMessage.created_at < cutoff)
            .order_by(SmsMessage.id)).all()
        awaited: list[datetime] = []
        for message_id, created_at, audience in rows:
            created_at = clock.as_utc(created_at)
            sent_at = created_at + timedelta(seconds=self.rng.randint(3, 90))
            provider_id = f"{GATEWAY}-{message_id:07d}"
            recent = created_at > self.now - timedelta(days=30) and audience == SmsAudience.RESIDENT
            draw = self.rng.random()
            with clock.stopped_at(sent_at):
                outbox.record_sent(message_id, GATEWAY, provider_id, receipts=recent)
            if recent and draw < 0.02:
                # a number that cannot receive: the facilitator is asked to call or visit
                error = GatewayError("30005", "unknown destination handset (number does not exist)")
                with clock.stopped_at(sent_at + timedelta(seconds=self.rng.randint(2, 300))):
                    outbox.record_status(message_id, SmsStatus.UNDELIVERED, provider_id=provider_id, error=error)
                    db.session.flush()  # the follow-up's timestamp is taken when it is written
            elif draw < 0.97:
                with clock.stopped_at(sent_at + timedelta(seconds=self.rng.randint(2, 300))):
                    outbox.record_status(message_id, SmsStatus.DELIVERED, provider_id=provider_id)
            elif recent:  # no receipt ever came: a follow-up, not a resend
                awaited.append(sent_at + outbox.receipt_wait())
        for deadline in sorted(awaited):
            # the periodic sweep, just after each receipt fell due
            with clock.stopped_at(min(deadline + timedelta(minutes=5), self.now)):
                outbox.open_receipt_follow_ups()
                db.session.flush()

    # ----------------------------------------------------------------- summary

    def summary(self) -> list[str]:
        """Return the lines the CLI prints: what was built, and the state it is in now."""
        def count(model) -> int:
            return db.session.scalar(select(func.count()).select_from(model))

        puskesos = sum(1 for u in self.units.values() if u.kind == UnitKind.PUSKESOS)
        case_states = dict(db.session.execute(select(Case.status, func.count()).group_by(Case.status)).all())
        referral_states = dict(
            db.session.execute(select(Referral.status, func.count()).group_by(Referral.status)).all())
        overdue = db.session.scalar(select(func.count()).select_from(Referral).where(
            Referral.status.in_(REFERRAL_ACTIVE), Referral.due_at < self.now))
        sms = Counter(dict(db.session.execute(
            select(SmsMessage.status, func.count()).group_by(SmsMessage.status)).all()))
        return [
            f"demo data: 1 secretariat, {puskesos} Puskesos, {count(Staff)} staff, {count(Agency)} agencies, "
            f"{count(Service)} services, {count(Resident)} residents, {count(Case)} cases, "
            f"{count(Referral)} referrals",
            "cases: " + ", ".join(f"{s.value} {case_states.get(s, 0)}" for s in CaseStatus),
            "referrals: " + ", ".join(f"{s.value} {referral_states.get(s, 0)}" for s in ReferralStatus)
            + f" ({overdue} overdue)",
            "sms: " + ", ".join(f"{s.value} {n}" for s, n in sorted(sms.items()))
            + f" ({count(FollowUp)} residents to call or visit)",
        ]


def _outcome(case: Case) -> Outcome:
    """Return the outcome staff record when closing: by how many referrals were completed."""
    done = sum(1 for r in case.referrals if r.status == ReferralStatus.COMPLETED)
    if done == len(case.referrals):
        return Outcome.FULFILLED
    return Outcome.PARTIAL if done else Outcome.UNFULFILLED


def seed(residents: int = 200, random_seed: int = 2026) -> list[str]:
    """Build the demo district in the current session (flushed, not committed); return summary lines."""
    if residents < 20:
        raise ValueError("the demo needs at least 20 residents")
    if db.session.scalar(select(Region.id).where(Region.code == REGENCY)) is not None:
        raise RuntimeError(f"region {REGENCY} exists already: seed the demo into an empty database")
    builder = DistrictBuilder(residents, random_seed)
    with clock.stopped_at(builder.start):
        builder.set_up()
    plans = builder.draw()
    builder.register_people()
    builder.run(plans)
    builder.settle_outbox()
    return builder.summary()
