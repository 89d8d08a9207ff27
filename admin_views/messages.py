"""SMS outbox and inbox (read-only) and the SMS templates managers edit."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_admin import expose
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from markupsafe import Markup
from wtforms import ValidationError as FormError

from admin_views.base import SecureModelView
from slrt import clock, gsm, notices, outbox
from slrt.access import ALL_ROLES, MANAGER_ROLES, OVERSIGHT_ROLES
from slrt.codes import format_code
from slrt.errors import DomainError
from slrt.extensions import db
from slrt.identity import mask_phone
from slrt.models import SmsMessage


class SmsMessageView(SecureModelView):
    read_roles = ALL_ROLES
    export_roles = OVERSIGHT_ROLES
    column_list = ["created_at", "direction", "phone", "template_key", "case", "status", "segments", "error_code"]
    column_labels = {"created_at": _l("Time"), "direction": _l("Direction"), "phone": _l("Phone"),
                     "template_key": _l("Notice"), "case": _l("Ticket"), "status": _l("Status"),
                     "segments": _l("Segments"), "error_code": _l("Error"), "body": _l("Text"),
                     "failed_attempts": _l("Failed attempts")}
    column_formatters = {
        "created_at": lambda v, c, m, n: clock.to_local(m.created_at).strftime("%d-%m-%Y %H:%M"),
        "phone": lambda v, c, m, n: mask_phone(m.phone),
        "case": lambda v, c, m, n: format_code(m.case.ticket) if m.case else "-",
        "failed_attempts": lambda v, c, m, n: Markup("<br>").join(
            f"{a.attempt}. {clock.to_local(a.at).strftime('%d-%m-%Y %H:%M')} {a.gateway or ''} "
            f"{a.error_code or ''}: {a.error_message or ''}" for a in m.failed_attempts) or "-",
    }
    column_filters = ["status", "direction", "audience", "template_key", "created_at"]
    column_default_sort = ("created_at", True)
    column_sortable_list = ["created_at"]
    column_details_list = ["created_at", "direction", "audience", "phone", "template_key", "body", "encoding",
                           "segments", "status", "gateway", "provider_id", "error_code", "error_message",
                           "attempts", "failed_attempts", "sent_at", "delivered_at"]

    #: SMS of the cases the staff member covers; those of no case for who covers every unit.
    scoped_model = SmsMessage

    def get_query(self):
        from sqlalchemy.orm import joinedload

        return super().get_query().options(joinedload(SmsMessage.case))

    @expose("/resume", methods=["POST"])
    def resume_view(self):
        """A manager lifts the pause the provider's suspension caused (the banner's button).

        Back to the outbox, a fixed page of ours: never where the Referer header points.
        """
        try:
            waiting = outbox.resume_sending(actor=current_user._get_current_object())
            db.session.commit()
            flash(_l("SMS sending resumed; %(n)s waiting messages go out now.", n=waiting), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        return redirect(url_for(".index_view"))


def _gsm_body(form, field):
    if not field.data:
        raise FormError(str(_l("The text cannot be empty.")))
    field.data = gsm.normalize(field.data)
    key = form.key.data if hasattr(form, "key") and form.key.data else None
    if key in notices.DEFAULTS:
        unknown = notices.template_fields(field.data) - notices.template_fields(notices.DEFAULTS[key]["id"])
        if unknown:
            raise FormError(str(_l("Unknown fields: %(names)s.", names=", ".join(sorted(unknown)))))
    if "miskin" in field.data.lower():
        raise FormError(str(_l("Do not use the word \"miskin\" in SMS.")))


class SmsTemplateView(SecureModelView):
    read_roles = ALL_ROLES
    create_roles = edit_roles = delete_roles = MANAGER_ROLES
    applies_everywhere = True
    edit_template = "admin/sms_template_edit.html"
    create_template = "admin/sms_template_create.html"
    column_list = ["key", "language", "body", "is_flagged", "updated_at"]
    column_labels = {"key": _l("Notice"), "language": _l("Language"), "body": _l("Text"),
                     "is_flagged": _l("Flagged as spam"), "updated_at": _l("Changed")}
    form_columns = ["key", "language", "body"]
    form_choices = {"key": [(k, k) for k in sorted(notices.DEFAULTS)],
                    "language": [("id", "Bahasa Indonesia"), ("en", "English")]}
    form_args = {"body": {"validators": [_gsm_body]}}
    form_widget_args = {"body": {"rows": 4, "data-sms-counter": "1"}}

    def on_model_change(self, form, model, is_created):
        model.updated_by_id = current_user.id
        model.is_flagged = False  # reworded by a manager: reviewed
