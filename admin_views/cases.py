"""Cases: the list, the case page (timeline, referrals, a button per allowed move) and intake."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from markupsafe import Markup
from sqlalchemy import exists, select
from sqlalchemy.orm import joinedload, selectinload

from admin_views.base import SecureModelView, SecureView
from admin_views.people import resident_search
from admin_views.security import staff_scope
from slrt import cases, followups, referrals, residents, workdays, workflow
from slrt.access import (
    ALL_ROLES,
    OVERSIGHT_ROLES,
    REFERRAL_ROLES,
    covered_units,
    covered_village_ids,
    covers_village,
    sees_resident,
)
from slrt.codes import format_code
from slrt.errors import DomainError
from slrt.extensions import db
from slrt.models import Agency, Case, CaseNeed, Event, FollowUp, Referral, Region, Resident, Service, SmsMessage, Staff
from slrt.models.base import row_id
from slrt.models.enums import (
    DOMAIN_LABELS,
    REFERRAL_ACTIVE,
    CaseStatus,
    Channel,
    Domain,
    FollowUpReason,
    Outcome,
    PhoneOwner,
    ReferralStatus,
    RegionLevel,
    Urgency,
)
from slrt.workflow import CASE_MOVES, REFERRAL_MOVES

CHANNEL_LABELS = {Channel.WALK_IN: _l("walk-in"), Channel.PUSKESOS: _l("Puskesos"),
                  Channel.OUTREACH: _l("outreach (jemput bola)"), Channel.PHONE: _l("phone"), Channel.SMS: "SMS"}
URGENCY_LABELS = {Urgency.NORMAL: _l("normal"), Urgency.URGENT: _l("urgent"), Urgency.EMERGENCY: _l("emergency")}
OUTCOME_LABELS = {Outcome.FULFILLED: _l("fulfilled"), Outcome.PARTIAL: _l("partly fulfilled"),
                  Outcome.UNFULFILLED: _l("not fulfilled")}

FOLLOW_UP_REASONS = {FollowUpReason.SMS_FAILED: _l("the SMS could not be delivered"),
                     FollowUpReason.NO_RECEIPT: _l("no delivery report for the SMS")}


def status_badge(status) -> Markup:
    return Markup('<span class="badge status-{0}">{1}</span>').format(status.value, workflow.status_label(status))


class CaseDomainFilter(BaseSQLAFilter):
    """Cases that need a service of a domain (health, social, education)."""

    def validate(self, value):
        return value in {d.value for d in Domain}

    def apply(self, query, value, alias=None):
        needs = select(CaseNeed.id).join(CaseNeed.service).where(
            CaseNeed.case_id == Case.id, Service.domain == value)
        return query.filter(exists(needs))

    def operation(self):
        return _l("equals")


class CaseView(SecureModelView):
    read_roles = ALL_ROLES
    export_roles = OVERSIGHT_ROLES
    details_template = "admin/case.html"

    column_list = ["ticket", "resident", "unit", "status", "urgency", "channel", "opened_at", "assignee"]
    column_labels = {"ticket": _l("Ticket"), "resident": _l("Resident"), "unit": _l("Unit"), "status": _l("Status"),
                     "urgency": _l("Urgency"), "channel": _l("Channel"), "opened_at": _l("Opened"),
                     "assignee": _l("Assignee"), "summary": _l("What they said")}
    column_formatters = {
        "ticket": lambda v, c, m, n: format_code(m.ticket),
        "resident": lambda v, c, m, n: m.resident.name,
        "unit": lambda v, c, m, n: m.unit.name,
        "status": lambda v, c, m, n: status_badge(m.status),
        "urgency": lambda v, c, m, n: URGENCY_LABELS[m.urgency],
        "channel": lambda v, c, m, n: CHANNEL_LABELS[m.channel],
        "assignee": lambda v, c, m, n: m.assignee.full_name if m.assignee else "-",
        "opened_at": lambda v, c, m, n: workdays_fmt(m.opened_at),
    }
    column_default_sort = ("opened_at", True)
    column_sortable_list = ["opened_at", "status"]
    column_searchable_list = ["ticket"]
    column_filters = [
        "status", "channel", "urgency", "opened_at",
        CaseDomainFilter(Case.id, _l("Domain"), options=[(d.value, DOMAIN_LABELS[d]) for d in Domain]),
    ]

    scoped_model = Case

    def get_query(self):
        return super().get_query().options(
            joinedload(Case.resident), joinedload(Case.unit), joinedload(Case.assignee))

    def search_placeholder(self):
        return str(_l("Ticket, NIK, phone or name"))

    def narrow_search(self, query, term):
        digits = "".join(ch for ch in term if ch.isdigit())
        if digits and len(digits) < 9 and all(ch.isdigit() or ch in " -." for ch in term.strip()):
            return query.filter(Case.ticket == digits)
        residents_found = resident_search(db.session.query(Resident.id), term)
        return query.filter(Case.resident_id.in_(residents_found.scalar_subquery()))

    # ---- the case page -------------------------------------------------------------------
    @expose("/details/")
    def details_view(self):
        case = self.get_one(request.args.get("id"))
        case = db.session.scalars(
            select(Case).where(Case.id == case.id).options(
                selectinload(Case.referrals).joinedload(Referral.agency),
                selectinload(Case.referrals).joinedload(Referral.service).selectinload(Service.documents),
                selectinload(Case.needs).joinedload(CaseNeed.service).selectinload(Service.documents),
                selectinload(Case.events).joinedload(Event.actor_staff),
                selectinload(Case.events).joinedload(Event.actor_contact),
            )
        ).one()
        messages = list(db.session.scalars(
            select(SmsMessage).where(SmsMessage.case_id == case.id).order_by(SmsMessage.created_at)))
        referred = {r.service_id for r in case.referrals if r.status in REFERRAL_ACTIVE}
        return self.render(
            self.details_template,
            case=case,
            messages=messages,
            follow_ups=db.session.scalars(
                select(FollowUp).where(FollowUp.case_id == case.id).order_by(FollowUp.created_at)).all(),
            follow_up_reasons=FOLLOW_UP_REASONS,
            timeline=_timeline(case, messages),
            case_moves=workflow.allowed_moves(CASE_MOVES, case, current_user),
            referral_moves={r.id: workflow.allowed_moves(REFERRAL_MOVES, r, current_user) for r in case.referrals},
            may_refer=current_user.role in REFERRAL_ROLES and case.status in (
                CaseStatus.OPEN, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED),
            may_reassign=current_user.role in OVERSIGHT_ROLES,
            needs_to_refer=[n for n in case.needs if n.service_id not in referred],
            services=db.session.scalars(select(Service).where(Service.is_active).order_by(Service.domain,
                                                                                        Service.name)).all(),
            agencies=db.session.scalars(select(Agency).where(Agency.is_active).order_by(Agency.name)).all(),
            assignees=db.session.scalars(
                select(Staff).where(Staff.active, Staff.unit_id.in_([u.id for u in case.unit.lineage()]))
                .order_by(Staff.full_name)).all(),
            outcomes=OUTCOME_LABELS, channel_labels=CHANNEL_LABELS, urgency_labels=URGENCY_LABELS,
            status_badge=status_badge, format_code=format_code, due_phrase=workdays.due_phrase,
            domain_labels=DOMAIN_LABELS, action_labels=workflow.ACTION_LABELS, status_label=_status_label,
        )

    def _back(self, case_id: int):
        return redirect(self.get_url(".details_view", id=case_id))

    def _run(self, case_id: int, do, success):
        """One unit of work: call the domain, commit, say what happened; on refusal change nothing."""
        try:
            do()
            db.session.commit()
            flash(success, "success")
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return exc
        return None

    @expose("/follow-up/<id:follow_up_id>/done", methods=["POST"])
    def follow_up_done_view(self, follow_up_id):
        follow_up = db.session.get(FollowUp, follow_up_id)
        if follow_up is None:
            abort(404)
        case = self.get_one(follow_up.case_id)  # 404 outside the staff member's units
        self._run(case.id, lambda: followups.complete(follow_up, actor=current_user._get_current_object(),
                                                      note=request.form.get("note", "")),
                  _l("Follow-up noted on the case."))
        return self._back(case.id)

    @expose("/<id:case_id>/refer", methods=["POST"])
    def refer_view(self, case_id):
        case = self.get_one(case_id)
        service = db.session.get(Service, request.form.get("service_id", type=row_id) or 0)
        chosen = request.form.get("agency_id")  # empty: the service's default agency
        agency = db.session.get(Agency, request.form.get("agency_id", type=row_id) or 0) if chosen else None
        if service is None or (chosen and agency is None):
            flash(_l("Choose the service to refer.") if service is None else _l("Choose the agency to refer to."),
                  "error")
            return self._back(case.id)
        error = self._run(case.id, lambda: referrals.refer(
            case, service=service, agency=agency, actor=current_user,
            documents_checked=request.form.getlist("documents"),
            confirm_duplicate=bool(request.form.get("confirm_duplicate"))),
            _l("Referral sent to %(agency)s.", agency=(agency or service.default_agency or service).name))
        if isinstance(error, referrals.DuplicateReferral):
            flash(_l("Tick \"refer again\" and send once more if this referral is really needed."), "warning")
        return self._back(case.id)

    @expose("/referral/<id:referral_id>/<move>", methods=["POST"])
    def referral_move_view(self, referral_id, move):
        referral = db.session.get(Referral, referral_id)
        if referral is None:
            abort(404)
        case = self.get_one(referral.case_id)  # 404 outside the staff member's units
        note = request.form.get("note", "").strip() or None
        calls = {
            "accept": lambda: referrals.accept(referral, actor=current_user, note=note),
            "in_process": lambda: referrals.mark_in_process(referral, actor=current_user, note=note),
            "complete": lambda: referrals.complete(referral, actor=current_user, note=note),
            "reject": lambda: referrals.reject(referral, actor=current_user, reason=note or ""),
            "cancel": lambda: referrals.cancel_referral(referral, actor=current_user, reason=note or ""),
            "reopen": lambda: referrals.reopen(referral, actor=current_user, note=note),
        }
        if move not in calls:
            return self._back(case.id)
        self._run(case.id, calls[move], _l("Referral %(code)s: %(action)s done.", code=format_code(referral.code),
                                          action=workflow.ACTION_LABELS[move]))
        return self._back(case.id)

    @expose("/<id:case_id>/<move>", methods=["POST"])
    def case_move_view(self, case_id, move):
        case = self.get_one(case_id)
        note = request.form.get("note", "").strip() or None
        if move == "close":
            self._run(case.id, lambda: cases.close_case(case, outcome=request.form.get("outcome", ""),
                                                        actor=current_user, note=note), _l("Case closed."))
        elif move == "cancel":
            self._run(case.id, lambda: cases.cancel_case(case, reason=note or "", actor=current_user),
                      _l("Case cancelled."))
        elif move == "reassign":
            assignee = db.session.get(Staff, request.form.get("assignee_id", type=row_id) or 0)
            if assignee is None:
                flash(_l("Choose who follows the case."), "error")
            else:
                self._run(case.id, lambda: cases.reassign_case(case, assignee=assignee, actor=current_user,
                                                               note=note),
                          _l("Case handed to %(name)s.", name=assignee.full_name))
        return self._back(case.id)


def _status_label(value: str) -> str:
    for enum in (CaseStatus, ReferralStatus):
        try:
            return workflow.status_label(enum(value))
        except ValueError:
            continue
    return value


def workdays_fmt(moment) -> str:
    from slrt.clock import to_local

    return to_local(moment).strftime("%d-%m-%Y %H:%M")


def _timeline(case: Case, messages: list[SmsMessage]) -> list[dict]:
    """Events and SMS of the case, oldest first, in one list."""
    rows = [{"at": e.at, "kind": "event", "event": e} for e in case.events]
    rows += [{"at": m.created_at, "kind": "sms", "sms": m} for m in messages]
    return sorted(rows, key=lambda r: (r["at"], 0 if r["kind"] == "event" else 1))


class IntakeView(SecureView):
    """Intake in one flow: find the resident by NIK (or register them), open the case, see the documents."""

    read_roles = ALL_ROLES

    @expose("/", methods=["GET", "POST"])
    def index(self):
        nik = (request.form.get("nik") or "").strip()
        resident, lookup_error = None, None
        if nik:
            try:
                resident = residents.find_by_nik(nik)
                if resident is not None and not sees_resident(staff_scope(), resident):
                    resident, lookup_error = None, str(_l("This resident is registered in another village."))
            except DomainError as exc:
                lookup_error = str(exc)
        # The NIK travels in POST bodies only: never in a URL, a browser history or an access log.
        if request.method == "POST" and request.form.get("step") != "find" and not lookup_error:
            return self._submit(nik, resident)
        return self._form(nik=nik, resident=resident, lookup_error=lookup_error, values=request.form)

    def _form(self, **context):
        units = covered_units(current_user)
        village_ids = covered_village_ids(staff_scope())
        villages = select(Region).where(Region.level == RegionLevel.VILLAGE).order_by(Region.name)
        if village_ids is not None:
            villages = villages.where(Region.id.in_(village_ids))
        services = db.session.scalars(select(Service).where(Service.is_active).options(
            selectinload(Service.documents)).order_by(Service.domain, Service.name)).all()
        return self.render("admin/intake.html", units=units, villages=db.session.scalars(villages).all(),
                           services=services, channels=CHANNEL_LABELS, urgencies=URGENCY_LABELS,
                           phone_owners=_phone_owner_labels(), domain_labels=DOMAIN_LABELS,
                           **{"errors": {}, **context})

    def _submit(self, nik: str, resident: Resident | None):
        form = request.form
        errors: dict[str, str] = {}
        try:
            if resident is None:
                village = db.session.get(Region, form.get("village_id", type=row_id) or 0)
                if village is not None and not covers_village(staff_scope(), village.id):
                    village = None
                birth = _parse_date(form.get("birth_date"))
                household = _household(form.get("kk_number"), form.get("address", ""), village)
                resident = residents.register_resident(
                    nik=nik, name=form.get("name", ""), sex=form.get("sex", ""), birth_date=birth,
                    village=village, address=form.get("address", ""), actor=current_user,
                    phone=form.get("phone"), phone_owner=form.get("phone_owner") or PhoneOwner.OWN,
                    phone_owner_name=form.get("phone_owner_name"), household=household)
            unit = next((u for u in covered_units(current_user) if u.id == form.get("unit_id", type=row_id)), None)
            needs = list(db.session.scalars(select(Service).where(
                Service.id.in_(form.getlist("needs", type=row_id)))))
            case = cases.open_case(resident=resident, unit=unit or current_user.unit,
                                   channel=form.get("channel", ""), summary=form.get("summary", ""),
                                   needs=needs, actor=current_user, urgency=form.get("urgency") or Urgency.NORMAL)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            errors[exc.field or "form"] = str(exc)
            found = residents.find_by_nik(nik) if nik else None
            if found is not None and not sees_resident(staff_scope(), found):
                found = None
            return self._form(nik=nik, resident=found, lookup_error=None, values=form, errors=errors)
        flash(_l("Case %(ticket)s opened for %(name)s. The resident gets the ticket by SMS.",
                 ticket=format_code(case.ticket), name=resident.name), "success")
        return redirect(url_for("case.details_view", id=case.id))


def _parse_date(text: str | None) -> date | None:
    from slrt.errors import ValidationError

    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise ValidationError(_l("Enter the birth date."), field="birth_date") from None


def _phone_owner_labels():
    from admin_views.people import PHONE_OWNER_LABELS

    return PHONE_OWNER_LABELS


def _household(kk_number: str | None, address: str, village: Region | None):
    from slrt.errors import ValidationError

    """The family of the KK number typed at intake: found, or registered now; None if left empty."""
    if not (kk_number or "").strip():
        return None
    household = residents.find_household_by_kk(kk_number)
    if household is not None and not covers_village(staff_scope(), household.village_id):
        raise ValidationError(_l("This KK number is registered in another village."), field="kk_number")
    if household is None:
        household = residents.register_household(kk_number=kk_number, address=address, village=village,
                                                 actor=current_user)
    return household
