"""The service catalogue, documents, agencies and their contacts: read by all, kept by the district's managers."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from admin_views.base import SecureModelView
from slrt.access import ALL_ROLES, MANAGER_ROLES
from slrt.identity import display_phone, mask_phone, normalize_mobile
from slrt.models.enums import DOMAIN_COLOURS, DOMAIN_LABELS


def _domain(view, context, model, name):
    return Markup('<span class="card-chip card-{0}">{1}</span>').format(
        DOMAIN_COLOURS[model.domain], DOMAIN_LABELS[model.domain])


class ServiceView(SecureModelView):
    read_roles = ALL_ROLES
    create_roles = edit_roles = MANAGER_ROLES
    applies_everywhere = True
    column_list = ["code", "name", "domain", "default_agency", "sla_days", "is_active"]
    column_labels = {"code": _l("Code"), "name": _l("Name"), "short_name": _l("Name in SMS"), "domain": _l("Domain"),
                     "default_agency": _l("Default agency"), "sla_days": _l("SLA (working days)"),
                     "is_active": _l("Offered"), "documents": _l("Required documents"),
                     "reminder_first_days": _l("First reminder after (working days)"),
                     "reminder_every_days": _l("Then every (working days)"), "reminder_max": _l("At most"),
                     "description": _l("Description")}
    column_formatters = {"domain": _domain}
    column_searchable_list = ["name", "code"]
    column_filters = ["domain", "is_active"]
    form_columns = ["code", "name", "short_name", "domain", "description", "default_agency", "sla_days",
                    "reminder_first_days", "reminder_every_days", "reminder_max", "is_active"]
    form_ajax_refs = {"default_agency": {"fields": ["name", "short_name"], "page_size": 10}}
    column_details_list = form_columns[:] + ["documents"]
    column_formatters_detail = {"documents": lambda v, c, m, n: ", ".join(d.name for d in m.documents),
                                "domain": _domain}


class DocumentView(SecureModelView):
    read_roles = ALL_ROLES
    create_roles = edit_roles = MANAGER_ROLES
    applies_everywhere = True
    column_list = ["code", "name", "sms_name"]
    column_labels = {"code": _l("Code"), "name": _l("Name"), "sms_name": _l("Name in SMS")}
    form_columns = ["code", "name", "sms_name"]


class AgencyView(SecureModelView):
    read_roles = ALL_ROLES
    create_roles = edit_roles = MANAGER_ROLES
    applies_everywhere = True
    column_list = ["name", "short_name", "kind", "level", "phone", "is_active"]
    column_labels = {"name": _l("Name"), "short_name": _l("Name in SMS"), "kind": _l("Kind"), "level": _l("Level"),
                     "address": _l("Address"), "phone": _l("Phone"), "is_active": _l("Takes referrals"),
                     "contacts": _l("Contacts")}
    column_searchable_list = ["name", "short_name"]
    column_filters = ["kind", "level", "is_active"]
    form_columns = ["name", "short_name", "kind", "level", "address", "phone", "reminder_first_days",
                    "reminder_every_days", "reminder_max", "is_active"]
    column_details_list = ["name", "short_name", "kind", "level", "address", "phone", "contacts", "is_active"]
    column_formatters_detail = {"contacts": lambda v, c, m, n: Markup("<br>").join(
        f"{x.name} ({display_phone(x.phone)})" for x in m.contacts)}


class AgencyContactView(SecureModelView):
    read_roles = ALL_ROLES
    create_roles = edit_roles = MANAGER_ROLES
    applies_everywhere = True
    column_list = ["agency", "name", "phone", "is_head", "receives_reminders", "is_active"]
    column_labels = {"agency": _l("Agency"), "agency.name": _l("Agency"), "name": _l("Name"), "phone": _l("Phone"),
                     "is_head": _l("Head"),
                     "receives_reminders": _l("Gets SMS"), "is_active": _l("Active")}
    column_formatters = {"agency": lambda v, c, m, n: m.agency.short_name,
                         "phone": lambda v, c, m, n: mask_phone(m.phone)}
    column_formatters_detail = {"phone": lambda v, c, m, n: display_phone(m.phone)}
    column_filters = ["agency.name", "is_head", "is_active"]
    form_columns = ["agency", "name", "phone", "is_head", "receives_reminders", "is_active"]
    form_ajax_refs = {"agency": {"fields": ["name", "short_name"], "page_size": 10}}

    def on_model_change(self, form, model, is_created):
        model.phone = normalize_mobile(form.phone.data)
