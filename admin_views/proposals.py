"""DTSEN proposals ("usul DTSEN"): the list of residents proposed at the counter, by village, and its
downloads (CSV, XLSX) for the village's data operator."""

from __future__ import annotations

from flask import abort, request, url_for
from flask_admin import expose
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from sqlalchemy.orm import joinedload

from admin_views.base import SecureView, full_export_format, full_export_reason, render_full_export_form
from admin_views.security import staff_scope
from slrt import audit, clock, csvout, dtsen, xlsxout
from slrt.access import ALL_ROLES, may_export_full, village_choices
from slrt.extensions import db
from slrt.models import Region
from slrt.models.base import row_id
from slrt.models.enums import AuditAction

#: The audit log's type of what this screen lists and exports.
AUDIT_TYPE = "dtsen_proposal"


class DtsenProposalView(SecureView):
    """Residents proposed to DTSEN in the staff member's villages, with a village filter."""

    read_roles = ALL_ROLES

    def _village(self) -> tuple[int | None, str]:
        """The village asked for (``village`` in the query string): its id and its name for the file name;
        anything that is not a row id is no filter."""
        try:
            village_id = row_id(request.args.get("village", ""))
        except ValueError:
            return None, ""
        village = db.session.get(Region, village_id)
        return (village_id, village.name) if village is not None else (None, "")

    def _rows(self, full: bool = False):
        village_id, name = self._village()
        return dtsen.proposals(staff_scope(), village_id=village_id, full=full), village_id, name

    def _file_name(self, village: str, ext: str) -> str:
        return f"usul-dtsen-{village.lower().replace(' ', '-') or 'semua'}-{clock.today():%Y-%m-%d}.{ext}"

    @expose("/")
    def index(self):
        rows, village_id, _name = self._rows()
        villages = sorted(db.session.scalars(village_choices(staff_scope()).options(joinedload(Region.parent))),
                          key=lambda v: (v.parent.name if v.parent else "", v.name))
        query = {"village": village_id} if village_id else {}
        if rows:
            audit.record_list(AuditAction.LIST, record_type=AUDIT_TYPE, resident_ids=[row.resident_id for row in rows],
                              rows=len(rows), detail={"village_id": village_id})
        return self.render("admin/dtsen_proposals.html", rows=rows, villages=villages, village_id=village_id,
                           query=query, may_export_full=may_export_full(current_user))

    @expose("/export.csv")
    def export_csv(self):
        return self._download("csv")

    @expose("/export.xlsx")
    def export_xlsx(self):
        return self._download("xlsx")

    @expose("/export-full/", methods=["GET", "POST"])
    def export_full(self):
        """The download with full NIKs the village's data operator registers people with: a manager's,
        with a reason (every other download masks them)."""
        if not may_export_full(current_user):
            abort(403)
        village_id, _name = self._village()
        back = url_for(".index", **({"village": village_id} if village_id else {}))
        formats = ("xlsx", "csv")
        error = None
        if request.method == "POST":
            reason, error = full_export_reason()
            if error is None:
                return self._download(full_export_format(formats), full_reason=reason)
        return render_full_export_form(self, what=str(_l("DTSEN proposals")), back=back, formats=formats, error=error)

    def _download(self, extension: str, full_reason: str | None = None):
        """The file; with ``full_reason`` (a manager's, checked) the full NIKs. One "export" entry either way;
        a full one is written at once with its reason, whatever SLRT_AUDIT says."""
        full = full_reason is not None
        rows, village_id, name = self._rows(full=full)
        logged = {"resident_ids": [row.resident_id for row in rows], "rows": len(rows)}
        detail = {"village_id": village_id, "format": extension}
        if full:
            audit.record(AuditAction.EXPORT, **logged, detail={"type": AUDIT_TYPE, **detail, "full": True,
                                                               "reason": full_reason})
            db.session.commit()
        else:
            audit.record_list(AuditAction.EXPORT, record_type=AUDIT_TYPE, **logged, detail=detail)
        table = dtsen.proposal_table(rows, full=full)
        if extension == "csv":
            return csvout.response(table, self._file_name(name, "csv"))
        return xlsxout.response([xlsxout.Sheet(str(_l("DTSEN proposals")), table)], self._file_name(name, "xlsx"))
