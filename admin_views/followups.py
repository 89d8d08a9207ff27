"""Follow-ups: residents the SMS did not reach, for the village facilitator to call or visit."""

from __future__ import annotations

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from admin_views.base import SecureModelView
from admin_views.lists import code_link
from slrt import clock, sms_errors
from slrt.access import ALL_ROLES, OVERSIGHT_ROLES
from slrt.identity import mask_phone
from slrt.models import Case, FollowUp


def _case_link(view, context, model, name):
    return code_link(url_for("case.details_view", id=model.case_id), model.case.ticket)


class FollowUpView(SecureModelView):
    """Read here, act on the case page (the form there closes a follow-up with a note)."""

    read_roles = ALL_ROLES
    export_roles = OVERSIGHT_ROLES
    can_view_details = False
    column_list = ["created_at", "case", "resident", "phone", "unit", "reason", "detail", "status", "note"]
    column_labels = {"created_at": _l("Since"), "case": _l("Ticket"), "resident": _l("Resident"),
                     "phone": _l("Phone"), "unit": _l("Unit"), "reason": _l("Why"), "detail": _l("Detail"),
                     "status": _l("Status"), "note": _l("What was done")}
    column_formatters = {
        "created_at": lambda v, c, m, n: clock.format_date(m.created_at, "minute"),
        "case": _case_link,
        "resident": lambda v, c, m, n: m.case.resident.name,
        "phone": lambda v, c, m, n: mask_phone(m.case.resident.phone) if m.case.resident.phone else "-",
        "unit": lambda v, c, m, n: m.unit.name,
        "detail": lambda v, c, m, n: sms_errors.follow_up_detail(m),
    }
    column_filters = ["status", "reason", "created_at"]
    column_default_sort = ("created_at", False)
    column_sortable_list = ["created_at"]

    scoped_model = FollowUp
    audit_type = "follow_up"

    def get_query(self):
        return super().get_query().options(
            joinedload(FollowUp.case).joinedload(Case.resident), joinedload(FollowUp.unit),
            joinedload(FollowUp.message))
