"""Staff accounts: managers only. Passwords and second factors are not form fields."""

from __future__ import annotations

from flask import flash
from flask_admin.actions import action
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from admin_views.base import MANAGERS, SecureModelView
from slrt import staff as staff_ops
from slrt.errors import DomainError
from slrt.extensions import db
from slrt.identity import normalize_mobile
from slrt.models import Staff
from slrt.models.enums import ROLE_LABELS


class StaffView(SecureModelView):
    read_roles = edit_roles = create_roles = MANAGERS
    column_list = ["username", "full_name", "role", "unit", "active", "tf_primary_method", "last_login_at"]
    column_labels = {"username": _l("Username"), "full_name": _l("Name"), "role": _l("Role"), "unit": _l("Unit"),
                     "active": _l("Active"), "tf_primary_method": _l("Authenticator app"),
                     "last_login_at": _l("Last sign-in"), "phone": _l("Phone"), "language": _l("Language")}
    column_formatters = {"role": lambda v, c, m, n: ROLE_LABELS[m.role], "unit": lambda v, c, m, n: m.unit.name,
                         "tf_primary_method": lambda v, c, m, n: "✓" if m.tf_primary_method else "-"}
    column_searchable_list = ["username", "full_name"]
    column_filters = ["role", "active"]
    form_columns = ["full_name", "role", "unit", "phone", "language"]
    form_choices = {"language": [("id", "Bahasa Indonesia"), ("en", "English")]}
    form_ajax_refs = {"unit": {"fields": ["name"], "page_size": 10}}
    can_view_details = False

    form_create_rules = ["username", "full_name", "role", "unit", "phone", "language", "password"]
    def get_create_form(self):
        form = self.scaffold_form()
        form.username = StringField(_l("Username"), validators=[DataRequired()])
        form.password = PasswordField(_l("First password (at least 10 characters)"), validators=[DataRequired()])
        return form

    def create_model(self, form):
        """Accounts are made by the domain (checked username, strong password, argon2)."""
        try:
            user = staff_ops.create_staff(username=form.username.data, full_name=form.full_name.data,
                                          role=form.role.data, unit=form.unit.data, phone=form.phone.data,
                                          password=form.password.data)
            user.language = form.language.data or "id"
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return False
        return user

    def on_model_change(self, form, model, is_created):
        """Normalize as the domain does; a new role or unit takes effect at the next sign-in."""
        from sqlalchemy import inspect as sa_inspect

        from slrt.identity import validate_name

        model.full_name = validate_name(form.full_name.data, field="full_name")
        model.phone = normalize_mobile(form.phone.data) if form.phone.data else None
        state = sa_inspect(model)
        if not is_created and (state.attrs.role.history.has_changes() or state.attrs.unit.history.has_changes()):
            staff_ops.sign_out_everywhere(model)  # e.g. a new manager must pass the second factor first

    def _users(self, ids):
        numbers = [int(i) for i in ids if str(i).isdecimal()]
        return db.session.scalars(select(Staff).where(Staff.id.in_(numbers))).all()

    @action("deactivate", _l("Deactivate"), _l("Deactivate the selected accounts?"))
    def action_deactivate(self, ids):
        for user in self._users(ids):
            staff_ops.set_active(user, False)
        db.session.commit()
        flash(_l("Accounts deactivated."), "success")

    @action("activate", _l("Activate"))
    def action_activate(self, ids):
        for user in self._users(ids):
            staff_ops.set_active(user, True)
            staff_ops.unlock(user)
        db.session.commit()
        flash(_l("Accounts activated."), "success")

    @action("reset_2fa", _l("Reset authenticator app"), _l("They will set up a new one at next sign-in. Continue?"))
    def action_reset_2fa(self, ids):
        for user in self._users(ids):
            staff_ops.reset_second_factor(user)
        db.session.commit()
        flash(_l("Authenticator apps reset."), "success")
