"""SMS outbox and inbox (read-only) and the SMS templates managers edit."""

from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from markupsafe import Markup
from sqlalchemy.orm import joinedload
from wtforms import ValidationError as FormError

from admin_views import work
from admin_views.base import SecureModelView
from slrt import clock, gsm, notices, outbox, sms_errors
from slrt.access import ALL_ROLES, MANAGER_ROLES, OVERSIGHT_ROLES
from slrt.codes import format_code
from slrt.errors import DomainError
from slrt.identity import mask_phone
from slrt.models import SmsMessage, SmsTemplate
from slrt.models.enums import Language, label_of

#: The gateways by the names a clerk knows them.
GATEWAY_NAMES = {"twilio": "Twilio", "android": _l("the office's Android phone"), "console": _l("console (demo)")}


def _problem(view, context, model, name):
    """What went wrong, in words; the provider's own message for whoever needs it, on hover."""
    problem = sms_errors.message_problem(model)
    if problem is None:
        return "-"
    return Markup('<span title="{0}">{1}</span>').format(
        f"{model.error_code}: {model.error_message or ''}", problem)


def _attempt(attempt) -> Markup:
    """One failed attempt: when, through which gateway, the code and what it means (the provider's words on hover)."""
    gateway = GATEWAY_NAMES.get(attempt.gateway, attempt.gateway or "")
    return Markup('<span title="{0}">{1}. {2} {3} {4}: {5}</span>').format(
        attempt.error_message or "", attempt.attempt, clock.format_date(attempt.at, "minute"), gateway,
        attempt.error_code or "", sms_errors.explain(attempt.error_code) or "-")


class SmsMessageView(SecureModelView):
    read_roles = ALL_ROLES
    export_roles = OVERSIGHT_ROLES
    column_list = ["created_at", "direction", "phone", "template_key", "case", "status", "waiting", "segments",
                   "error_code"]
    column_labels = {"created_at": _l("Time"), "direction": _l("Direction"), "phone": _l("Phone"),
                     "template_key": _l("Notice"), "case": _l("Ticket"), "status": _l("Status"),
                     "segments": _l("Segments"), "error_code": _l("Error"), "body": _l("Text"),
                     "failed_attempts": _l("Failed attempts"), "waiting": _l("Why it waits"),
                     "audience": _l("Recipient"), "encoding": _l("Character set"), "gateway": _l("Sent through"),
                     "provider_id": _l("Provider's message id"), "error_message": _l("What went wrong"),
                     "reply_key": _l("Reply sent"), "attempts": _l("Sending attempts"),
                     "sent_at": _l("Sent at"), "delivered_at": _l("Delivered at")}
    column_formatters = {
        "created_at": lambda v, c, m, n: clock.format_date(m.created_at, "minute"),
        "phone": lambda v, c, m, n: mask_phone(m.phone),
        "case": lambda v, c, m, n: format_code(m.case.ticket) if m.case else "-",
        "waiting": lambda v, c, m, n: outbox.waiting_reason(m) or "",
        "template_key": lambda v, c, m, n: notices.notice_name(m.template_key),
        "reply_key": lambda v, c, m, n: notices.notice_name(m.reply_key),
        "gateway": lambda v, c, m, n: GATEWAY_NAMES.get(m.gateway, m.gateway) if m.gateway else "-",
        "error_code": _problem,
        "error_message": _problem,
        "failed_attempts": lambda v, c, m, n: Markup("<br>").join(_attempt(a) for a in m.failed_attempts) or "-",
    }
    column_formatters_export = {
        **column_formatters,
        "error_code": lambda v, c, m, n: sms_errors.message_problem(m) or "",
        "error_message": lambda v, c, m, n: sms_errors.message_problem(m) or "",
    }
    column_filters = ["status", "direction", "audience",
                      FilterEqual(SmsMessage.template_key, _l("Notice"), options=notices.notice_choices),
                      "created_at"]
    column_default_sort = ("created_at", True)
    column_sortable_list = ["created_at"]
    column_details_list = ["created_at", "direction", "audience", "phone", "template_key", "body", "encoding",
                           "segments", "status", "waiting", "gateway", "provider_id", "error_code", "error_message",
                           "reply_key", "attempts", "failed_attempts", "sent_at", "delivered_at"]

    #: SMS of the cases the staff member covers; those of no case for who covers every unit.
    scoped_model = SmsMessage
    audit_type = "sms"

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
    """Managers word the notices; the screen shows each notice's name, default text and fields,
    and previews the text with example values (the rules: slrt.notices.check_template)."""

    read_roles = ALL_ROLES
    create_roles = edit_roles = delete_roles = MANAGER_ROLES
    applies_everywhere = True
    list_template = "admin/sms_template_list.html"
    edit_template = "admin/sms_template_edit.html"
    create_template = "admin/sms_template_create.html"
    column_list = ["key", "language", "body", "is_flagged", "updated_at"]
    column_labels = {"key": _l("Notice"), "language": _l("Language"), "body": _l("Text"),
                     "is_flagged": _l("Flagged as spam"), "updated_at": _l("Changed")}
    column_formatters = {"key": lambda v, c, m, n: notices.notice_name(m.key),
                         "language": lambda v, c, m, n: label_of(Language, m.language)}
    form_columns = ["key", "language", "body"]
    form_choices = {"key": notices.notice_choices(), "language": Language.choices()}
    form_args = {"body": {"validators": [_gsm_body]}}
    form_widget_args = {"body": {"rows": 4, "data-sms-counter": "1"}}

    def render(self, template, **kwargs):
        """The list with every notice beside the managers' own texts; the form with its notice's help."""
        if template == self.list_template:
            # the managers' own texts of this page (no second query; another page's is refused when saved)
            kwargs["notices"] = notices.catalogue(templates=kwargs.get("data") or [])
        elif template in (self.edit_template, self.create_template) and "form" in kwargs:
            kwargs["notice_help"] = _notice_help(kwargs["form"])
        return super().render(template, **kwargs)

    def create_form(self, obj=None):
        """Opened from a notice of the list (``?key=``): that notice, starting from its default text."""
        form = super().create_form(obj)
        key = request.args.get("key")
        if request.method == "GET" and key in notices.DEFAULTS:
            language = request.args.get("language") if request.args.get("language") in ("id", "en") else "id"
            form.key.data, form.language.data, form.body.data = key, language, notices.DEFAULTS[key][language]
        return form

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


def _notice_help(form) -> dict:
    """What the form shows beside the text: the chosen notice, its fields, the preview; and for the
    page's script, every notice and the GSM-7 alphabet, so the help follows the choice and the typing."""
    key = form.key.data if form.key.data in notices.DEFAULTS else next(iter(notices.DEFAULTS))
    language = form.language.data if form.language.data in ("id", "en") else "id"
    office = current_app.config["SLRT_SMS_SENDER_NAME"]
    preview = notices.preview(form.body.data or notices.DEFAULTS[key][language], office)
    script = {
        "notices": {n.key: {"name": n.name, "default": {lang: notices.DEFAULTS[n.key][lang] for lang in ("id", "en")},
                            "fields": n.fields} for n in notices.catalogue()},
        "examples": {**notices.EXAMPLE_VALUES, "office": office},
        "gsm7": "".join(sorted(gsm.GSM7_BASIC)), "gsm7_extended": "".join(sorted(gsm.GSM7_EXTENDED)),
        "look_alikes": gsm.REPLACEMENTS,
        "ucs2_warning": notices.ucs2_warning("%CHARS%"),
    }
    return {"key": key, "language": language, "name": notices.notice_name(key),
            "default": notices.DEFAULTS[key][language], "fields": notices.fields_of(key), "preview": preview,
            "script": script}
