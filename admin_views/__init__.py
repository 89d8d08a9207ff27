"""Staff screens: Flask-Admin behind Flask-Security, in Bahasa Indonesia by default."""

from __future__ import annotations

import os
from urllib.parse import urlencode

from flask import Flask, redirect
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from jinja2 import ChoiceLoader, FileSystemLoader

from admin_views.assets import init_assets
from admin_views.audit import AccountView, AuditLogView, entry_helpers
from admin_views.base import RowIdConverter
from admin_views.cases import CaseView, IntakeView
from admin_views.catalog import AgencyContactView, AgencyView, DocumentView, ServiceView
from admin_views.dashboard import DashboardView
from admin_views.dtsen_import import DtsenImportView
from admin_views.followups import FollowUpView
from admin_views.headers import csp_nonce, init_headers
from admin_views.home import bp as home_bp
from admin_views.messages import SmsMessageView, SmsTemplateView
from admin_views.people import HouseholdView, ResidentView
from admin_views.proposals import DtsenProposalView
from admin_views.referrals import ReferralView
from admin_views.regions import RegionView, UnitView
from admin_views.security import init_security, staff_scope
from admin_views.setup_import import SetupImportView
from admin_views.staff import StaffView
from slrt import clock, identity, outbox, referrals
from slrt.access import keeps_settings
from slrt.extensions import db
from slrt.models import (
    Agency,
    AgencyContact,
    Case,
    Document,
    FollowUp,
    Household,
    Referral,
    Region,
    Resident,
    Service,
    SmsMessage,
    SmsTemplate,
    Staff,
    Unit,
)
from slrt.models.enums import ROLE_LABELS, Role

HERE = os.path.dirname(__file__)


def init_admin(app: Flask) -> Admin:
    """Sign-in, then every screen; all of them require a signed-in staff member."""
    app.url_map.converters["id"] = RowIdConverter  # before any route uses <id:...>
    # Our templates first: they override Flask-Admin's and Flask-Security's where named alike.
    app.jinja_loader = ChoiceLoader([FileSystemLoader(os.path.join(HERE, "templates")), app.jinja_loader])
    init_headers(app)  # first: it takes Cache-Control over from Flask-Security
    init_assets(app)  # compression; static files under content digests, kept a year
    init_security(app)
    _template_helpers(app)
    admin = Admin(
        app,
        name="SLRT",
        index_view=DashboardView(name=_l("Dashboard"), url="/admin"),
        theme=Bootstrap4Theme(fluid=True),
        translations_path=os.path.join(HERE, "translations"),
        csp_nonce_generator=csp_nonce,
    )
    work, people, catalogue, sms = _l("Work"), _l("People"), _l("Catalogue"), _l("SMS")
    admin.add_view(IntakeView(name=_l("Intake"), endpoint="intake", category=work))
    admin.add_view(CaseView(Case, db, name=_l("Cases"), endpoint="case", category=work))
    admin.add_view(ReferralView(Referral, db, name=_l("Referrals"), endpoint="referral", category=work))
    admin.add_view(FollowUpView(FollowUp, db, name=_l("Follow-ups"), endpoint="follow_up", category=work))
    admin.add_view(DtsenProposalView(name=_l("DTSEN proposals"), endpoint="dtsen_proposal", url="dtsen-proposals",
                                     category=work))
    admin.add_view(ResidentView(Resident, db, name=_l("Residents"), endpoint="resident", category=people))
    admin.add_view(HouseholdView(Household, db, name=_l("Households"), endpoint="household", category=people))
    admin.add_view(DtsenImportView(name=_l("DTSEN import"), endpoint="dtsen_import", url="dtsen-import",
                                   category=people))
    admin.add_view(ServiceView(Service, db, name=_l("Services"), endpoint="service", category=catalogue))
    admin.add_view(DocumentView(Document, db, name=_l("Documents"), endpoint="document", category=catalogue))
    admin.add_view(AgencyView(Agency, db, name=_l("Agencies"), endpoint="agency", category=catalogue))
    admin.add_view(AgencyContactView(AgencyContact, db, name=_l("Agency contacts"), endpoint="agency_contact",
                                     category=catalogue))
    # Staff too: for managers, beside what it fills (the top menu stays on one line).
    admin.add_view(SetupImportView(name=_l("Spreadsheet import"), endpoint="setup_import", url="setup-import",
                                   category=catalogue))
    admin.add_view(SmsMessageView(SmsMessage, db, name=_l("Outbox and inbox"), endpoint="sms", category=sms))
    admin.add_view(SmsTemplateView(SmsTemplate, db, name=_l("SMS templates"), endpoint="sms_template",
                                   category=sms))
    admin.add_view(StaffView(Staff, db, name=_l("Staff"), endpoint="staff"))
    admin.add_view(AuditLogView(name=_l("Audit log"), endpoint="audit_log", url="audit-log"))
    admin.add_view(AccountView(name=_l("My account"), endpoint="account", url="account"))
    territory = _l("Territory")
    admin.add_view(UnitView(Unit, db, name=_l("Units"), endpoint="unit", category=territory))
    admin.add_view(RegionView(Region, db, name=_l("Regions"), endpoint="region", category=territory))
    app.register_blueprint(home_bp)
    app.add_url_rule("/", "root", lambda: redirect("/admin/"))
    return admin


def _template_helpers(app: Flask) -> None:
    @app.context_processor
    def sms_pause_banner():
        def sms_pause():
            """The open sending pause, for the district's managers (who can lift it); None for everyone else."""
            if not current_user.is_authenticated or current_user.role != Role.MANAGER:
                return None
            pause = outbox.active_pause()
            return pause if pause is not None and keeps_settings(current_user, staff_scope()) else None

        return {"sms_pause": sms_pause}

    app.jinja_env.filters["nip"] = identity.format_nip
    app.jinja_env.globals.update(entry_helpers())  # audit entries in words (admin/_audit_entries.html)

    @app.template_filter("localtime")
    def localtime(moment, to: str = "minute") -> str:
        return clock.format_date(moment, to)

    app.jinja_env.globals["role_label"] = lambda role: ROLE_LABELS[Role(role)]
    app.jinja_env.globals["url_encode"] = lambda args: urlencode(args)
    app.jinja_env.globals["missing_documents"] = referrals.missing_documents  # the slip's "still to bring"
