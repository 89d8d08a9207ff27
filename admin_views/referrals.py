"""Referrals: the list with overdue rows highlighted, the A6 referral slip and the A4 referral letter."""

from __future__ import annotations

import segno
from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from markupsafe import Markup
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload

from admin_views import work
from admin_views.base import SecureModelView
from admin_views.cases import status_badge
from admin_views.lists import code_link
from admin_views.people import resident_search
from admin_views.security import staff_scope
from slrt import audit, clock, letters, outbox, reminders, workdays
from slrt.access import ALL_ROLES, OVERSIGHT_ROLES, REFERRAL_ROLES, may_reveal_nik, role_of
from slrt.codes import format_code
from slrt.errors import DomainError
from slrt.extensions import begin_write, db
from slrt.models import Agency, Case, Referral, Resident, Service, Unit
from slrt.models.base import row_ids
from slrt.models.enums import DOMAIN_COLOURS, DOMAIN_LABELS, REFERRAL_ACTIVE, AuditAction, Domain, UnitKind


class _YesNoFilter(BaseSQLAFilter):
    """Referrals that are (``1``) or are not (``0``) in a state derived from their columns."""

    def condition(self):
        raise NotImplementedError

    def validate(self, value):
        return value in ("0", "1")  # anything else: said and ignored

    def apply(self, query, value, alias=None):
        return query.filter(self.condition() if value == "1" else ~self.condition())

    def operation(self):
        return _l("is")


class OverdueFilter(_YesNoFilter):
    """Active referrals past their due date (overdue is derived, not stored)."""

    def condition(self):
        return Referral.is_overdue


class WaitingFilter(_YesNoFilter):
    """Referrals an agency has still to handle (sent or accepted): the dashboard's "waiting"."""

    def condition(self):
        return Referral.status.in_(REFERRAL_ACTIVE)


class EscalatedFilter(_YesNoFilter):
    """Active referrals escalated to the agency's head or the unit's supervisor."""

    def condition(self):
        return and_(Referral.status.in_(REFERRAL_ACTIVE), Referral.escalated_at.is_not(None))


class UnverifiedFilter(_YesNoFilter):
    """Completed referrals the resident was asked about by SMS and has not confirmed."""

    def condition(self):
        return Referral.is_unverified


class DomainFilter(BaseSQLAFilter):
    """Referrals for a service of a domain (health, social, education)."""

    def validate(self, value):
        return value in {d.value for d in Domain}  # anything else: said and ignored, not a database error

    def apply(self, query, value, alias=None):
        return query.filter(Referral.service.has(Service.domain == value))

    def operation(self):
        return _l("equals")


def _status(view, context, model, name):
    badge = status_badge(model.status)
    if model.escalated_at is not None and model.is_active:
        return badge + Markup(' <span class="label label-danger" title="{0}">{1}</span>').format(
            _l("Escalated to the agency head or the supervisor"), _l("escalated"))
    if model.is_unverified:
        return badge + Markup(' <span class="label label-warning" title="{0}">{1}</span>').format(
            _l("The resident was asked by SMS whether the service came and has not confirmed"), _l("unverified"))
    return badge


def _due(view, context, model, name):
    text = workdays.due_phrase(model.due_at) if model.is_active else "-"
    css = "overdue" if model.is_overdue else ""
    return Markup('<span class="{0}">{1}</span>').format(css, text)


def _documents(view, context, model, name):
    """The documents the clerk saw, by name (the service's list names them)."""
    names = {d.code: d.name for d in model.service.documents}
    return ", ".join(names.get(code, code) for code in model.documents_checked or []) or "-"


YES_NO = [("1", _l("yes")), ("0", _l("no"))]


class ReferralView(SecureModelView):
    read_roles = ALL_ROLES
    export_roles = OVERSIGHT_ROLES
    list_template = "admin/referral_list.html"
    details_template = "admin/referral_details.html"  # links to the slip and the letter

    column_list = ["code", "case", "resident", "service", "agency", "status", "sent_at", "due_at"]
    column_labels = {"code": _l("Referral"), "case": _l("Ticket"), "resident": _l("Resident"),
                     "service": _l("Service"), "agency": _l("Agency"), "status": _l("Status"),
                     "sent_at": _l("Sent"), "due_at": _l("Due"), "agency.name": _l("Agency"),
                     "service.name": _l("Service"), "documents_checked": _l("Documents checked"),
                     "accepted_at": _l("Accepted"), "completed_at": _l("Completed"), "rejected_at": _l("Rejected"),
                     "cancelled_at": _l("Cancelled"), "reopened_at": _l("Reopened"), "reason": _l("Reason"),
                     "completion_note": _l("Completion note"), "reopened_count": _l("Times reopened"),
                     "reminders_sent": _l("Reminders sent"), "last_reminded_at": _l("Last reminder"),
                     "escalated_at": _l("Escalated"), "escalation_rung": _l("Escalated to"),
                     "resident_verification": _l("Resident's confirmation"),
                     "verification_asked_at": _l("Resident asked on")}
    column_details_list = ["code", "case", "resident", "service", "agency", "status", "sent_at", "due_at",
                           "documents_checked", "accepted_at", "completed_at", "rejected_at", "cancelled_at",
                           "reopened_at", "reason", "completion_note", "reopened_count", "reminders_sent",
                           "last_reminded_at", "escalated_at", "escalation_rung", "resident_verification",
                           "verification_asked_at"]
    column_formatters = {
        # The row opens the case page, where the referral is answered.
        "code": lambda v, c, m, n: code_link(v.get_url("case.details_view", id=m.case_id), m.code),
        "case": lambda v, c, m, n: code_link(v.get_url("case.details_view", id=m.case_id), m.case.ticket,
                                             opens_row=False),
        "resident": lambda v, c, m, n: m.case.resident.name,
        "service": lambda v, c, m, n: m.service.name,
        "agency": lambda v, c, m, n: m.agency.short_name,
        "status": _status,
        "sent_at": lambda v, c, m, n: clock.format_date(m.sent_at),
        "due_at": _due,
        "documents_checked": _documents,
    }
    column_default_sort = ("sent_at", True)
    column_sortable_list = ["sent_at", "due_at", "status"]
    column_searchable_list = ["code"]
    column_filters = [
        "status", "agency.name", "service.name", "sent_at",
        DomainFilter(Referral.id, _l("Domain"), options=Domain.choices),
        OverdueFilter(Referral.id, _l("Overdue"), options=YES_NO),
        WaitingFilter(Referral.id, _l("Waiting for the agency"), options=YES_NO),
        EscalatedFilter(Referral.id, _l("Escalated"), options=YES_NO),
        UnverifiedFilter(Referral.id, _l("Not confirmed by the resident"), options=YES_NO),
    ]

    scoped_model = Referral
    audit_type = "referral"

    def get_query(self):
        return super().get_query().options(
            joinedload(Referral.case).joinedload(Case.resident), joinedload(Referral.service),
            joinedload(Referral.agency))

    def narrow_search(self, query, term):
        """A referral code or the case's ticket (digits); else the resident (NIK, phone, any word of
        the name) or the agency (a part of its name or short name)."""
        digits = "".join(ch for ch in term if ch.isdigit())
        if digits and all(ch.isdigit() or ch in " -." for ch in term.strip()) and len(digits) < 9:
            tickets = select(Case.id).where(Case.ticket == digits)
            return query.filter(or_(Referral.code == digits, Referral.case_id.in_(tickets)))
        residents_found = resident_search(db.session.query(Resident.id), term)
        by_resident = Referral.case_id.in_(
            select(Case.id).where(Case.resident_id.in_(residents_found.scalar_subquery())))
        words = term.strip().lower()
        # Agencies are few: which ones match is asked first, so a name alone stays a pure index lookup.
        agencies = db.session.scalars(select(Agency.id).where(or_(
            func.lower(Agency.name).contains(words, autoescape=True),
            func.lower(Agency.short_name).contains(words, autoescape=True)))).all() if words else []
        return query.filter(or_(by_resident, Referral.agency_id.in_(agencies)) if agencies else by_resident)

    def is_action_allowed(self, name):
        if name == "remind":
            return current_user.is_authenticated and role_of(current_user) in REFERRAL_ROLES
        return super().is_action_allowed(name)

    @action("remind", _l("Send reminder now"),
            _l("Send the agencies an SMS reminder about the selected referrals now?"))
    def action_remind(self, ids):
        chosen = self.scope(db.session.query(Referral).filter(Referral.id.in_(row_ids(ids)))).all()
        actor, sent, messages = current_user._get_current_object(), 0, []
        for referral in chosen:
            try:
                messages += [digest.message for digest in reminders.send_reminder_now(referral, actor=actor)]
                sent += 1
            except DomainError as error:
                flash(f"{format_code(referral.code)}: {error}", "error")
        db.session.commit()
        if sent:
            flash(_l("Reminders queued for %(count)s referrals.", count=sent), "success")
        if later := outbox.send_time_notice(messages):
            flash(later, "info")

    def search_placeholder(self):
        return str(_l("Code, ticket, resident or agency"))

    @expose("/slip/")
    def slip_view(self):
        referral = self.get_one(request.args.get("id"))  # 404 outside the staff member's units
        return self.render("admin/slip.html", referral=referral, colour=DOMAIN_COLOURS[referral.service.domain],
                           domain_label=DOMAIN_LABELS[referral.service.domain], format_code=format_code)

    @expose("/letter/")
    def letter_view(self):
        """The A4 referral letter; its first print gives it the unit's next letter number."""
        referral = self.get_one(request.args.get("id"), audited=False)  # 404 outside the staff member's units
        staff = current_user._get_current_object()
        letter = letters.letter_of(referral)
        if letter is None:
            begin_write()  # SQLite: queue behind other writers before reading the unit's last number
            letter, error = work.commit(lambda: letters.issue_letter(referral, actor=staff))
            if error is not None:
                return redirect(url_for("case.details_view", id=referral.case_id))
        resident, unit = referral.case.resident, referral.case.unit
        # A paper for the agency, which serves the resident by NIK (BPJS, Disdukcapil): its full NIK for
        # staff who may reveal it, and each print logged as a reveal; a masked one otherwise, logged as a read.
        full_nik = may_reveal_nik(staff, staff_scope(), resident)
        if full_nik:
            audit.record(AuditAction.REVEAL_NIK, record=resident, resident_ids=[resident.id],
                         detail={"letter": letter.reference, "referral_id": referral.id})
            db.session.commit()
        else:
            audit.record_view(referral)
        target = url_for("referral.details_view", id=referral.id, _external=True)  # an id only: no personal data
        return self.render(
            "admin/letter.html", referral=referral, letter=letter, resident=resident, unit=unit,
            secretariat=unit.parent if unit.kind == UnitKind.PUSKESOS else None,
            place=_place(unit), letter_date=format_date(clock.to_local(letter.issued_at).date(), "long"),
            nik=resident.nik if full_nik else resident.nik_masked,
            domain_label=DOMAIN_LABELS[referral.service.domain],
            colour=DOMAIN_COLOURS[referral.service.domain],
            documents=[(d, d.code in referral.documents_checked) for d in referral.service.documents],
            qr=Markup(segno.make(target, error="m").svg_inline(scale=0.75, unit="mm", border=2, title=target)),
            printed_at=clock.now(), format_code=format_code)


def _place(unit: Unit) -> str:
    """Where the letter is written, as its date line says ("Blora, 5 Desember 2026"): the unit's area
    without "Kabupaten" or "Kota"."""
    name = unit.region.name
    for prefix in ("Kabupaten ", "Kota ", "Kab. "):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name
