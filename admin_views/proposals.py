"""DTSEN proposals ("usul DTSEN"): the list of residents proposed at the counter, by village, and its
downloads (CSV, XLSX) for the village's data operator."""

from __future__ import annotations

from flask import request
from flask_admin import expose
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from admin_views.base import SecureView
from admin_views.security import staff_scope
from slrt import clock, csvout, dtsen, xlsxout
from slrt.access import ALL_ROLES, village_choices
from slrt.extensions import db
from slrt.models import Region
from slrt.models.base import row_id


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

    def _rows(self):
        village_id, name = self._village()
        return dtsen.proposals(staff_scope(), village_id=village_id), village_id, name

    def _file_name(self, village: str, ext: str) -> str:
        return f"usul-dtsen-{village.lower().replace(' ', '-') or 'semua'}-{clock.today():%Y-%m-%d}.{ext}"

    @expose("/")
    def index(self):
        rows, village_id, _name = self._rows()
        villages = sorted(db.session.scalars(village_choices(staff_scope()).options(joinedload(Region.parent))),
                          key=lambda v: (v.parent.name if v.parent else "", v.name))
        query = {"village": village_id} if village_id else {}
        return self.render("admin/dtsen_proposals.html", rows=rows, villages=villages, village_id=village_id,
                           query=query)

    @expose("/export.csv")
    def export_csv(self):
        rows, _village_id, name = self._rows()
        return csvout.response(dtsen.proposal_table(rows), self._file_name(name, "csv"))

    @expose("/export.xlsx")
    def export_xlsx(self):
        rows, _village_id, name = self._rows()
        return xlsxout.response([xlsxout.Sheet(str(_l("DTSEN proposals")), dtsen.proposal_table(rows))],
                                self._file_name(name, "xlsx"))
