"""The audit log for the district's managers (read only: no screen edits or deletes an entry), and the
account page where every staff member sees their own recent activity.

Filters travel in the URL as ids, codes and dates; a resident is chosen by NIK in a POSTed form and
found by its keyed hash, so the URL carries the resident's id, never the NIK. Pages go newest first by
keyset ("older" carries the last entry's time and id): no OFFSET, no COUNT(*) (slrt.audit_search).
"""

from __future__ import annotations

import itertools
import os
import tempfile

from flask import abort, redirect, request, send_file, url_for
from flask_admin import expose
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from sqlalchemy import select

from admin_views.base import SecureView
from admin_views.security import staff_scope
from slrt import audit, audit_search, clock, csvout, residents, xlsxout
from slrt.access import ALL_ROLES, MANAGER_ROLES, reads_audit_log
from slrt.errors import ValidationError
from slrt.extensions import db
from slrt.models import Staff
from slrt.models.enums import AuditAction

#: The record types whose pages an entry links to (each screen keeps its own scope: 404 outside it).
RECORD_PAGES = {"resident": "resident.details_view", "household": "household.details_view",
                "case": "case.details_view", "referral": "referral.details_view", "sms": "sms.details_view"}
#: Rows an XLSX export holds at most (a sheet's limit, less its header).
XLSX_ROWS = 1_048_575


def record_url(entry) -> str | None:
    """The page of the record an entry names, if it has one."""
    endpoint = RECORD_PAGES.get(entry.record_type or "")
    return url_for(endpoint, id=entry.record_id) if endpoint and entry.record_id else None


def entry_helpers() -> dict:
    """What the entries' table (admin/_audit_entries.html) needs to write an entry in words: template
    globals (admin_views.init_admin)."""
    return {"record_url": record_url, "record_type_label": audit_search.record_type_label,
            "audit_detail": audit_search.detail_text}


def export_rows(entries):
    """An export's rows: a header in the reader's words, then one row per entry (no personal value is
    in an entry: details hold masked values). Staff are named by full name and account number."""
    names = dict(db.session.execute(select(Staff.id, Staff.full_name)).all())
    yield [str(word) for word in (_l("Time"), _l("Kind of actor"), _l("Actor"), _l("Account"), _l("Action"),
                                  _l("Record"), _l("Number"), _l("Residents"), _l("Rows"), _l("Address"),
                                  _l("Browser"), _l("Request"), _l("Details"), "Hash")]
    for entry in entries:
        who = names.get(entry.staff_id, entry.actor_label) if entry.staff_id else entry.actor_label
        yield [clock.format_date(entry.at, "second"), str(entry.actor_kind.label), who,
               f"#{entry.staff_id}" if entry.staff_id else "", str(entry.action.label),
               audit_search.record_type_label(entry.record_type) if entry.record_type else "", entry.record_id,
               " ".join(str(i) for i in entry.resident_ids or ()), entry.rows, entry.ip, entry.user_agent,
               entry.request_id, audit_search.detail_text(entry.detail), entry.hash]


class AuditLogView(SecureView):
    """Managers of the whole district: the audit log with filters, pages and its export."""

    read_roles = MANAGER_ROLES

    def is_accessible(self) -> bool:
        return super().is_accessible() and reads_audit_log(current_user, staff_scope())

    def _parsed_filters(self) -> audit_search.Parsed:
        return audit_search.parse_filters(request.args)

    @expose("/")
    def index(self):
        parsed = self._parsed_filters()
        before = audit_search.parse_cursor(request.args.get("before"))
        found = audit_search.page(parsed.filters, before)
        args = parsed.filters.query_args()
        older = url_for(".index", **args, before=found.next.token()) if found.next else None
        return self._page(parsed, found, older, args)

    def _page(self, parsed, found, older, args, resident_error: str | None = None, nik: str = ""):
        staff = db.session.execute(select(Staff.id, Staff.username, Staff.full_name).order_by(Staff.username)).all()
        return self.render("admin/audit_log.html", entries=found.entries, older=older, filters=parsed.filters,
                           errors=parsed.errors, args=args, staff=staff, actions=AuditAction,
                           record_types=audit_search.RECORD_TYPE_LABELS, resident_error=resident_error,
                           first_page=url_for(".index", **args) if request.args.get("before") else None,
                           all_residents=url_for(".index", **{k: v for k, v in args.items() if k != "resident"}),
                           filter_url=lambda name, value: url_for(".index", **{**args, name: value}))

    @expose("/resident", methods=["POST"])
    def resident(self):
        """The entries of the resident with the NIK typed: found by keyed hash, then named by id in the URL."""
        parsed = audit_search.parse_filters(request.form)
        args = {name: value for name, value in parsed.filters.query_args().items() if name != "resident"}
        nik = request.form.get("nik", "")
        try:
            found = residents.find_by_nik(nik)
        except ValidationError as exc:
            return self._page(parsed, audit_search.page(parsed.filters), None, args, resident_error=str(exc))
        if found is None:
            return self._page(parsed, audit_search.page(parsed.filters), None, args,
                              resident_error=str(_l("No resident has this NIK.")))
        return redirect(url_for(".index", **args, resident=found.id))

    @expose("/export.<extension>")
    def export(self, extension: str):
        """The filtered entries as a file, newest first; the export is itself an entry of the log."""
        if extension not in ("csv", "xlsx"):
            abort(404)
        filters = self._parsed_filters().filters
        rows = audit_search.count(filters)
        audit.record(AuditAction.EXPORT, rows=rows,
                     resident_ids=[filters.resident_id] if filters.resident_id else (),
                     detail={"type": "audit", **filters.detail(), "format": extension})
        db.session.commit()  # the entry, before the file goes
        name = f"log-audit-{clock.today():%Y-%m-%d}.{extension}"
        table = export_rows(audit_search.every(filters))
        if extension == "csv":
            return csvout.response(table, name)
        header = next(table)
        handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)
        handle.close()
        try:
            xlsxout.write_rows(handle.name, str(_l("Audit log")), header, itertools.islice(table, XLSX_ROWS))
            data = open(handle.name, "rb")  # noqa: SIM115  (closed by the response)
        finally:
            os.unlink(handle.name)  # the open file is read to its end; no copy stays on disk
        return send_file(data, mimetype=xlsxout.MIMETYPE, as_attachment=True, download_name=name)


class AccountView(SecureView):
    """The signed-in staff member's account: who they are, links to password and authenticator, and
    their own recent activity from the audit log."""

    read_roles = ALL_ROLES

    def is_visible(self) -> bool:
        return False  # reached from the user menu, not the top menu

    @expose("/")
    def index(self):
        staff = current_user._get_current_object()
        found = audit_search.own_activity(staff.id)
        return self.render("admin/account.html", account=staff, entries=found.entries)
