"""Cases: the list, the case page (timeline, referrals, a button per allowed move) and intake."""

from __future__ import annotations

from datetime import date, datetime

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from markupsafe import Markup
from sqlalchemy import exists, select
from sqlalchemy.orm import joinedload, selectinload

from admin_views import work
from admin_views.base import SecureModelView, SecureView
from admin_views.lists import code_link
from admin_views.people import PHONE_OWNER_LABELS, resident_search
from admin_views.security import staff_scope
from slrt import (
    audit,
    cases,
    clock,
    dtsen,
    followups,
    identity,
    notices,
    outbox,
    referrals,
    residents,
    sms_errors,
    workdays,
    workflow,
)
from slrt.access import (
    ALL_ROLES,
    OVERSIGHT_ROLES,
    covered_units,
    village_choices,
)
from slrt.codes import format_code
from slrt.errors import DomainError
from slrt.extensions import db
from slrt.models import (
    Agency,
    Case,
    CaseNeed,
    Event,
    FollowUp,
    Referral,
    Region,
    Resident,
    Service,
    SmsMessage,
    Staff,
    Unit,
)
from slrt.models.base import row_id
from slrt.models.enums import (
    DOMAIN_LABELS,
    REFERRAL_ACTIVE,
    AuditAction,
    CaseStatus,
    Channel,
    Domain,
    FollowUpReason,
    Outcome,
    PhoneOwner,
    ReferralStatus,
    Urgency,
)
from slrt.workflow import CASE_MOVES, REFERRAL_MOVES

# Words by member for the templates' dropdowns; declared once in slrt.models.enums.
CHANNEL_LABELS = {channel: channel.label for channel in Channel}
URGENCY_LABELS = {urgency: urgency.label for urgency in Urgency}
FOLLOW_UP_REASONS = {reason: reason.label for reason in FollowUpReason}


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
        "ticket": lambda v, c, m, n: code_link(v.get_url(".details_view", id=m.id), m.ticket),
        "resident": lambda v, c, m, n: m.resident.name,
        "unit": lambda v, c, m, n: m.unit.name,
        "status": lambda v, c, m, n: status_badge(m.status),
        "urgency": lambda v, c, m, n: URGENCY_LABELS[m.urgency],
        "channel": lambda v, c, m, n: CHANNEL_LABELS[m.channel],
        "assignee": lambda v, c, m, n: m.assignee.full_name if m.assignee else "-",
        "opened_at": lambda v, c, m, n: clock.format_date(m.opened_at, "minute"),
    }
    column_default_sort = ("opened_at", True)
    column_sortable_list = ["opened_at", "status"]
    column_searchable_list = ["ticket"]
    column_filters = [
        "status", "channel", "urgency", "opened_at",
        CaseDomainFilter(Case.id, _l("Domain"), options=Domain.choices),
    ]

    scoped_model = Case
    audit_type = "case"

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
        case_moves = workflow.allowed_moves(CASE_MOVES, case, current_user)
        return self.render(
            self.details_template,
            case=case,
            messages=messages,
            follow_ups=db.session.scalars(
                select(FollowUp).where(FollowUp.case_id == case.id).order_by(FollowUp.created_at)).all(),
            follow_up_reasons=FOLLOW_UP_REASONS,
            timeline=_timeline(case, messages),
            case_moves=case_moves,
            referral_moves={r.id: workflow.allowed_moves(REFERRAL_MOVES, r, current_user) for r in case.referrals},
            may_refer=workflow.may_refer(case, current_user),
            may_reassign=workflow.may_reassign(case, current_user),
            needs_to_refer=[n for n in case.needs if n.service_id not in referred],
            services=db.session.scalars(select(Service).where(Service.is_active).order_by(Service.domain,
                                                                                        Service.name)).all(),
            agencies=db.session.scalars(select(Agency).where(Agency.is_active).order_by(Agency.name)).all(),
            assignees=cases.assignees(case),
            outcomes=cases.OUTCOME_LABELS, outcome_help=cases.OUTCOME_HELP,
            suggested_outcome=cases.suggested_outcome(case) if "close" in case_moves else None,
            missing={r.id: referrals.missing_documents(r) for r in case.referrals},
            channel_labels=CHANNEL_LABELS, urgency_labels=URGENCY_LABELS,
            status_badge=status_badge, format_code=format_code, due_phrase=workdays.due_phrase,
            domain_labels=DOMAIN_LABELS, action_labels=workflow.ACTION_LABELS, status_label=_status_label,
            notice_name=notices.notice_name, follow_up_detail=sms_errors.follow_up_detail,
            sms_problem=sms_errors.message_problem,
            dtsen_line=dtsen.status_line(case.resident), dtsen_proposal=dtsen.proposal_of(case),
            in_dtsen=dtsen.is_in_dtsen(case.resident),
        )

    def _back(self, case_id: int):
        return redirect(self.get_url(".details_view", id=case_id))

    def _run(self, do, success):
        """One unit of work: call the domain, commit, say what happened; on refusal change nothing."""
        _done, error = work.commit(do)
        if error is None:
            flash(success, "success")
        return error

    @expose("/follow-up/<id:follow_up_id>/done", methods=["POST"])
    def follow_up_done_view(self, follow_up_id):
        follow_up = db.session.get(FollowUp, follow_up_id)
        if follow_up is None:
            abort(404)
        case = self.get_one(follow_up.case_id)  # 404 outside the staff member's units
        self._run(lambda: followups.complete(follow_up, actor=current_user._get_current_object(),
                                             note=request.form.get("note", "")),
                  _l("Follow-up noted on the case."))
        return self._back(case.id)

    def _confirm(self, *, title, consequences: list[str], action: str, back: str, button, confirm_field: str,
                 danger: bool = True):
        """A page that says what a move will do and asks for it again: the same form posted once more with
        ``confirm_field`` set. No script needed (the policy allows no inline one, and confirm() can be
        switched off in a browser)."""
        fields = [(k, v) for k, v in request.form.items(multi=True) if k not in ("csrf_token", confirm_field)]
        return self.render("admin/confirm.html", title=title, consequences=consequences, action=action,
                           back=back, button=button, confirm_field=confirm_field, fields=fields, danger=danger)

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
        documents = request.form.getlist("documents")
        unticked = referrals.unticked_documents(service, documents)
        duplicate = referrals.active_referrals_for(case, service) and not request.form.get("confirm_duplicate")
        if unticked and not request.form.get("confirm_missing") and workflow.may_refer(case, current_user) \
                and not duplicate:  # a duplicate is refused first, and the clerk decides on it
            return self._confirm(
                title=_l("Send the referral without every document?"),
                consequences=[
                    str(_l("Not ticked for %(service)s: %(documents)s.", service=service.name,
                           documents=", ".join(d.name for d in unticked))),
                    str(_l("The referral goes to %(agency)s anyway; the slip and the case page list these "
                           "documents as still missing, for the resident to bring.",
                           agency=(agency or service.default_agency or service).name)),
                ],
                action=url_for(".refer_view", case_id=case.id), back=self.get_url(".details_view", id=case.id),
                button=_l("Send without them"), confirm_field="confirm_missing", danger=False)
        error = self._run(lambda: referrals.refer(
            case, service=service, agency=agency, actor=current_user,
            documents_checked=documents,
            confirm_duplicate=bool(request.form.get("confirm_duplicate"))),
            _l("Referral sent to %(agency)s.", agency=(agency or service.default_agency or service).name))
        if isinstance(error, referrals.DuplicateReferral):
            flash(_l("Tick \"refer again\" and send once more if this referral is really needed."), "warning")
        return self._back(case.id)

    @expose("/referral/<id:referral_id>/documents", methods=["POST"])
    def documents_view(self, referral_id):
        referral = db.session.get(Referral, referral_id)
        if referral is None:
            abort(404)
        case = self.get_one(referral.case_id)  # 404 outside the staff member's units
        brought, _error = work.commit(lambda: referrals.record_documents(
            referral, request.form.getlist("documents"), actor=current_user._get_current_object()))
        if brought:
            flash(_l("Referral %(code)s: %(documents)s brought.", code=format_code(referral.code),
                     documents=", ".join(d.name for d in brought)), "success")
        return self._back(case.id)

    @expose("/referral/<id:referral_id>/<move>", methods=["POST"])
    def referral_move_view(self, referral_id, move):
        referral = db.session.get(Referral, referral_id)
        if referral is None:
            abort(404)
        case = self.get_one(referral.case_id)  # 404 outside the staff member's units
        note = request.form.get("note", "").strip() or None
        actor = current_user._get_current_object()
        calls = {
            "accept": lambda: referrals.accept(referral, actor=actor, note=note),
            "in_process": lambda: referrals.mark_in_process(referral, actor=actor, note=note),
            "complete": lambda: referrals.complete(referral, actor=actor, note=note),
            "reject": lambda: referrals.reject(referral, actor=actor, reason=note or ""),
            "cancel": lambda: referrals.cancel_referral(referral, actor=actor, reason=note or ""),
            "reopen": lambda: referrals.reopen(referral, actor=actor, note=note),
        }
        if move not in calls:
            return self._back(case.id)
        if move in CONFIRMED_REFERRAL_MOVES and not request.form.get("confirmed"):
            try:
                consequences = referrals.move_consequences(referral, move, actor=actor, note=note)
            except DomainError as exc:
                flash(str(exc), "error")
                return self._back(case.id)
            return self._confirm(title=CONFIRMED_REFERRAL_MOVES[move].format(code=format_code(referral.code)),
                                 consequences=consequences, back=self.get_url(".details_view", id=case.id),
                                 action=url_for(".referral_move_view", referral_id=referral.id, move=move),
                                 button=CONFIRM_BUTTONS[move], confirm_field="confirmed")
        what = {"code": format_code(referral.code), "agency": referral.agency.name}
        self._run(calls[move], REFERRAL_MOVE_DONE[move].format(**what))
        return self._back(case.id)

    @expose("/dtsen/<id:case_id>/propose", methods=["POST"])
    def dtsen_propose_view(self, case_id):
        """Propose the case's resident to DTSEN ("usul DTSEN"), for the village's data operator."""
        case = self.get_one(case_id)
        self._run(lambda: dtsen.propose(case, current_user._get_current_object(),
                                        note=request.form.get("note", "").strip() or None),
                  _l("%(name)s is proposed to DTSEN.", name=case.resident.name))
        return self._back(case.id)

    @expose("/dtsen/<id:case_id>/withdraw", methods=["POST"])
    def dtsen_withdraw_view(self, case_id):
        case = self.get_one(case_id)
        self._run(lambda: dtsen.withdraw_proposal(case, current_user._get_current_object()),
                  _l("The DTSEN proposal is withdrawn."))
        return self._back(case.id)

    @expose("/<id:case_id>/<move>", methods=["POST"])
    def case_move_view(self, case_id, move):
        case = self.get_one(case_id)
        note = request.form.get("note", "").strip() or None
        actor = current_user._get_current_object()
        ticket = format_code(case.ticket)
        if move in ("close", "cancel") and not request.form.get("confirmed"):
            try:
                if move == "close":
                    consequences = cases.close_consequences(case, outcome=request.form.get("outcome", ""),
                                                            actor=actor, note=note)
                else:
                    consequences = cases.cancel_consequences(case, reason=note or "", actor=actor)
            except DomainError as exc:
                flash(str(exc), "error")
                return self._back(case.id)
            return self._confirm(title=CONFIRM_TITLES[f"case_{move}"].format(ticket=ticket),
                                 consequences=consequences, back=self.get_url(".details_view", id=case.id),
                                 action=url_for(".case_move_view", case_id=case.id, move=move),
                                 button=CONFIRM_BUTTONS[f"case_{move}"], confirm_field="confirmed")
        if move == "close":
            outcome = request.form.get("outcome", "")
            label = cases.OUTCOME_LABELS.get(outcome, "") if outcome in set(Outcome) else ""
            self._run(lambda: cases.close_case(case, outcome=outcome, actor=actor, note=note),
                      _l("Case %(ticket)s closed: %(outcome)s.", ticket=ticket, outcome=label))
        elif move == "cancel":
            self._run(lambda: cases.cancel_case(case, reason=note or "", actor=actor),
                      _l("Case %(ticket)s cancelled.", ticket=ticket))
        elif move == "reassign":
            assignee = db.session.get(Staff, request.form.get("assignee_id", type=row_id) or 0)
            if assignee is None:
                flash(_l("Choose who follows the case."), "error")
            else:
                self._run(lambda: cases.reassign_case(case, assignee=assignee, actor=actor, note=note),
                          _l("Case handed to %(name)s.", name=assignee.full_name))
        return self._back(case.id)


#: What a done move says, in a sentence ("Rujukan 97612-9 diterima oleh Dinas Kesehatan").
REFERRAL_MOVE_DONE = {
    "accept": _l("Referral {code} accepted by {agency}."),
    "in_process": _l("Referral {code} is being processed by {agency}."),
    "complete": _l("Referral {code} completed by {agency}."),
    "reject": _l("Referral {code} rejected by {agency}."),
    "cancel": _l("Referral {code} to {agency} cancelled."),
    "reopen": _l("Referral {code} reopened: it is back with {agency}."),
}
#: Moves that cannot be undone, asked again on a page that says what they will do.
CONFIRMED_REFERRAL_MOVES = {
    "reject": _l("Record referral {code} as rejected?"),
    "cancel": _l("Cancel referral {code}?"),
}
CONFIRM_TITLES = {
    "case_close": _l("Close case {ticket}?"),
    "case_cancel": _l("Cancel case {ticket}?"),
}
CONFIRM_BUTTONS = {
    "reject": _l("Yes, record the rejection"),
    "cancel": _l("Yes, cancel the referral"),
    "case_close": _l("Yes, close the case"),
    "case_cancel": _l("Yes, cancel the case"),
}


def _status_label(value: str) -> str:
    for enum in (CaseStatus, ReferralStatus):
        try:
            return workflow.status_label(enum(value))
        except ValueError:
            continue
    return value


def _timeline(case: Case, messages: list[SmsMessage]) -> list[dict]:
    """Events and SMS of the case, oldest first, in one list."""
    rows = [{"at": e.at, "kind": "event", "event": e} for e in case.events]
    rows += [{"at": m.created_at, "kind": "sms", "sms": m, "waiting": outbox.waiting_reason(m)} for m in messages]
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
                resident = residents.find_for_intake(nik, actor=current_user._get_current_object())
            except DomainError as exc:
                lookup_error = str(exc)
        # The NIK travels in POST bodies only: never in a URL, a browser history or an access log.
        if request.method == "POST" and request.form.get("step") != "find" and not lookup_error:
            return self._submit(nik, resident)
        if resident is not None:  # the NIK found someone: their name and address are on the page
            audit.record_list(AuditAction.SEARCH, record_type="resident", resident_ids=[resident.id], rows=1,
                              detail={"search": True})
        values = request.form.copy()
        facts = identity.facts_from_nik(nik) if nik and resident is None and not lookup_error else None
        if facts is not None:  # filled in from the NIK, for the clerk to confirm or correct
            values["birth_date"], values["sex"] = facts[0].isoformat(), facts[1].value
        return self._form(nik=nik, resident=resident, lookup_error=lookup_error, values=values)

    def _form(self, **context):
        units = covered_units(current_user)
        # Grouped by kecamatan, picked by typing (a district has some 300 villages).
        villages = sorted(db.session.scalars(village_choices(staff_scope()).options(joinedload(Region.parent))),
                          key=lambda v: (v.parent.name if v.parent else "", v.name))
        services = db.session.scalars(select(Service).where(Service.is_active).options(
            selectinload(Service.documents)).order_by(Service.domain, Service.name)).all()
        resident = context.get("resident")
        facts = identity.facts_from_nik(context["nik"]) if context.get("nik") and resident is None else None
        values = context.get("values") or {}
        # Say so while the birth date and sex shown are the ones the NIK gave.
        from_nik = facts is not None and (values.get("birth_date"), values.get("sex")) == (
            facts[0].isoformat(), facts[1].value)
        open_cases = cases.open_cases_of(resident, current_user._get_current_object()) if resident else []
        # Whether the resident is in DTSEN (desil, programmes), or can be proposed: for a NIK typed.
        dtsen_line = dtsen.status_line(resident) if context.get("nik") and not context.get("lookup_error") else None
        return self.render("admin/intake.html", units=units, villages=villages, dtsen_line=dtsen_line,
                           services=services, channels=CHANNEL_LABELS, urgencies=URGENCY_LABELS,
                           phone_owners=PHONE_OWNER_LABELS, domain_labels=DOMAIN_LABELS, open_cases=open_cases,
                           new_case=cases.NEW_CASE, status_badge=status_badge, format_code=format_code,
                           from_nik=from_nik, **{"errors": {}, **context})

    def _submit(self, nik: str, resident: Resident | None):
        form = request.form
        actor = current_user._get_current_object()
        errors: dict[str, str] = {}
        village = db.session.get(Region, form.get("village_id", type=row_id) or 0)
        needs = list(db.session.scalars(select(Service).where(Service.id.in_(form.getlist("needs", type=row_id)))))
        # Every field is checked first, so the clerk sees all that is wrong at once, beside each field.
        if resident is None:
            birth, birth_error = _parse_date(form.get("birth_date"))
            errors.update(residents.registration_errors(
                nik=nik, name=form.get("name"), sex=form.get("sex"), birth_date=birth, village=village,
                address=form.get("address"), phone=form.get("phone"), phone_owner=form.get("phone_owner"),
                phone_owner_name=form.get("phone_owner_name"), kk_number=form.get("kk_number")))
            if birth_error:
                errors["birth_date"] = birth_error
        else:
            try:
                cases.chosen_case(resident, form.get("case_choice"), actor)
            except DomainError as exc:
                errors[exc.field or "form"] = str(exc)
        errors.update(cases.complaint_errors(channel=form.get("channel"), urgency=form.get("urgency") or Urgency.NORMAL,
                                             summary=form.get("summary"), needs=needs))
        if not errors:
            try:
                if resident is None:
                    household = residents.household_for_intake(form.get("kk_number"), address=form.get("address", ""),
                                                               village=village, actor=actor)
                    resident = residents.register_resident(
                        nik=nik, name=form.get("name", ""), sex=form.get("sex", ""), birth_date=birth,
                        village=village, address=form.get("address", ""), actor=actor,
                        phone=form.get("phone"), phone_owner=form.get("phone_owner") or PhoneOwner.OWN,
                        phone_owner_name=form.get("phone_owner_name"), household=household)
                unit = db.session.get(Unit, form.get("unit_id", type=row_id) or 0)
                case, opened = cases.take_complaint(
                    resident=resident, choice=form.get("case_choice"), unit=unit or actor.unit,
                    channel=form.get("channel", ""), summary=form.get("summary", ""), needs=needs, actor=actor,
                    urgency=form.get("urgency") or Urgency.NORMAL)
                db.session.commit()
            except DomainError as exc:
                db.session.rollback()
                errors[exc.field or "form"] = str(exc)
        if errors:
            return self._form(nik=nik, resident=_found(nik, actor), lookup_error=None, values=form, errors=errors)
        if opened and (no_sms := dtsen.no_sms_reason(resident)) is not None:
            flash(str(_l("Case %(ticket)s opened for %(name)s.", ticket=format_code(case.ticket),
                         name=resident.name)) + " " + no_sms, "success")
        elif opened:
            flash(_l("Case %(ticket)s opened for %(name)s. The resident gets the ticket by SMS.",
                     ticket=format_code(case.ticket), name=resident.name), "success")
            if later := outbox.send_time_notice(outbox.waiting_messages(case)):
                flash(later, "info")
        else:
            flash(_l("Complaint added to case %(ticket)s of %(name)s.", ticket=format_code(case.ticket),
                     name=resident.name), "success")
        return redirect(url_for("case.details_view", id=case.id))


def _found(nik: str, actor: Staff) -> Resident | None:
    """The resident already registered with this NIK whom the actor may see, for the form shown again."""
    try:
        return residents.find_for_intake(nik, actor=actor) if nik else None
    except DomainError:
        return None


def _parse_date(text: str | None) -> tuple[date | None, str | None]:
    """The birth date typed (the date field sends YYYY-MM-DD; a clerk may type DD-MM-YYYY), or an error."""
    text = (text or "").strip()
    if not text:
        return None, None  # the domain says it is required
    for parse in (date.fromisoformat, lambda t: datetime.strptime(t.replace("/", "-"), "%d-%m-%Y").date()):
        try:
            return parse(text), None
        except ValueError:
            continue
    return None, str(_l("The birth date is not a date (day-month-year)."))
