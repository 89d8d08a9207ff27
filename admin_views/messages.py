"""SMS outbox and inbox (read-only) and the SMS templates managers edit."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_admin import expose
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from markupsafe import Markup
from sqlalchemy.orm import joinedload
from wtforms import ValidationError as FormError

from admin_views import work
from admin_views.base import SecureModelView
from slrt import clock, notices, outbox
from slrt.access import ALL_ROLES, MANAGER_ROLES, OVERSIGHT_ROLES
from slrt.codes import format_code
from slrt.errors import DomainError
from slrt.identity import mask_phone
from slrt.models import SmsMessage, SmsTemplate


class SmsMessageView(SecureModelView):
    read_roles = ALL_ROLES
    export_roles = OVERSIGHT_ROLES
    column_list = ["created_at", "direction", "phone", "template_key", "case", "status", "waiting", "segments",
                   "error_code"]
    column_labels = {"created_at": _l("Time"), "direction": _l("Direction"), "phone": _l("Phone"),
                     "template_key": _l("Notice"), "case": _l("Ticket"), "status": _l("Status"),
                     "segments": _l("Segments"), "error_code": _l("Error"), "body": _l("Text"),
                     "failed_attempts": _l("Failed attempts"), "waiting": _l("Why it waits")}
    column_formatters = {
        "created_at": lambda v, c, m, n: clock.format_date(m.created_at, "minute"),
        "phone": lambda v, c, m, n: mask_phone(m.phone),
        "case": lambda v, c, m, n: format_code(m.case.ticket) if m.case else "-",
        "waiting": lambda v, c, m, n: outbox.waiting_reason(m) or "",
        "failed_attempts": lambda v, c, m, n: Markup("<br>").join(
            f"{a.attempt}. {clock.format_date(a.at, 'minute')} {a.gateway or ''} "
            f"{a.error_code or ''}: {a.error_message or ''}" for a in m.failed_attempts) or "-",
    }
    column_filters = ["status", "direction", "audience", "template_key", "created_at"]
    column_default_sort = ("created_at", True)
    column_sortable_list = ["created_at"]
    column_details_list = ["created_at", "direction", "audience", "phone", "template_key", "body", "encoding",
                           "segments", "status", "waiting", "gateway", "provider_id", "error_code", "error_message",
                           "reply_key", "attempts", "failed_attempts", "sent_at", "delivered_at"]

    #: SMS of the cases the staff member covers; those of no case for who covers every unit.
    scoped_model = SmsMessage

    def get_query(self):
        return super().get_query().options(joinedload(SmsMessage.case), joinedload(SmsMessage.resident))

    @expose("/resume", methods=["POST"])
    def resume_view(self):
        """A manager lifts the pause the provider's suspension caused (the banner's button).

        Back to the outbox, a fixed page of ours: never where the Referer header points.
        """
        waiting, error = work.commit(lambda: outbox.resume_sending(actor=current_user._get_current_object()))
        if error is None:
            flash(_l("SMS sending resumed; %(n)s waiting messages go out now.", n=waiting), "success")
        return redirect(url_for(".index_view"))


def _gsm_body(form, field):
    """The domain's check of a template's text, said beside the field; the text as it will be sent."""
    key = form.key.data if hasattr(form, "key") and form.key.data else None
    try:
        field.data = notices.check_template(key, field.data)
    except DomainError as exc:
        raise FormError(str(exc)) from None


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

    def _save(self, template: SmsTemplate | None, form) -> SmsTemplate | None:
        """The text goes through the domain (checked, signed, its spam flag cleared); one unit of work."""
        saved, _error = work.commit(lambda: notices.save_template(
            template, key=form.key.data, language=form.language.data, body=form.body.data,
            actor=current_user._get_current_object()))
        return saved

    def create_model(self, form):
        return self._save(None, form) or False

    def update_model(self, form, model):
        return self._save(model, form) is not None
