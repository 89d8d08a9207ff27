"""Staff accounts: managers only. Passwords and second factors are not form fields."""

from __future__ import annotations

from flask_admin.actions import action
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from markupsafe import Markup
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from admin_views import work
from admin_views.base import RowIdAjaxLoader, SecureModelView
from admin_views.security import staff_scope
from slrt import clock, lockout, sign_in
from slrt import staff as staff_ops
from slrt.access import MANAGER_ROLES, may_grant
from slrt.extensions import db
from slrt.models import Staff, Unit
from slrt.models.base import row_ids
from slrt.models.enums import Language, Role, label_of


class CoveredUnitLoader(RowIdAjaxLoader):
    """The unit lookup offers only the open units the signed-in manager covers."""

    def get_query(self):
        return super().get_query().filter(Unit.id.in_(staff_scope().unit_ids), Unit.is_active)


class StaffView(SecureModelView):
    read_roles = edit_roles = create_roles = MANAGER_ROLES
    column_list = ["username", "full_name", "role", "unit", "active", "locked_until", "tf_primary_method",
                   "last_login_at"]
    column_labels = {"username": _l("Username"), "full_name": _l("Name"), "role": _l("Role"), "unit": _l("Unit"),
                     "active": _l("Active"), "tf_primary_method": _l("Authenticator app"),
                     "last_login_at": _l("Last sign-in"), "phone": _l("Phone"), "language": _l("Language"),
                     "locked_until": _l("Locked until")}
    # A username is a name, not a word of the screen: no translation, by people or by the browser.
    column_formatters = {"username": lambda v, c, m, n: Markup('<span translate="no" lang="zxx">{0}</span>').format(
                             m.username),
                         "unit": lambda v, c, m, n: m.unit.name,
                         "language": lambda v, c, m, n: label_of(Language, m.language),
                         "tf_primary_method": lambda v, c, m, n: "✓" if m.tf_primary_method else "-",
                         "locked_until": lambda v, c, m, n: _locked_until(m)}
    column_searchable_list = ["username", "full_name"]
    column_filters = ["role", "active"]
    form_columns = ["full_name", "role", "unit", "phone", "language"]
    form_choices = {"language": Language.choices(), "role": Role.choices()}
    form_ajax_refs = {"unit": CoveredUnitLoader("unit", db, Unit, fields=["name"], page_size=10)}
    can_view_details = False

    #: Accounts of the units the manager covers (slrt.access: the one scope rule).
    scoped_model = Staff

    def _grantable_roles(self, form, current=None):
        form.role.choices = [(value, label) for value, label in form.role.choices
                             if value == current or may_grant(current_user, value)]
        return form

    def create_form(self, obj=None):
        return self._grantable_roles(super().create_form(obj))

    def edit_form(self, obj=None):
        return self._grantable_roles(super().edit_form(obj), current=obj.role.value if obj else None)

    form_create_rules = ["username", "full_name", "role", "unit", "phone", "language", "password"]
    def get_create_form(self):
        form = self.scaffold_form()
        form.username = StringField(_l("Username"), validators=[DataRequired()])
        form.password = PasswordField(_l("First password (at least 10 characters)"), validators=[DataRequired()])
        return form

    def create_model(self, form):
        """Accounts are made by the domain (checked username, strong password, argon2)."""
        user, _error = work.commit(lambda: staff_ops.create_staff(
            username=form.username.data, full_name=form.full_name.data, role=form.role.data, unit=form.unit.data,
            phone=form.phone.data, password=form.password.data, language=form.language.data,
            actor=current_user._get_current_object()))
        return user or False

    def update_model(self, form, model):
        """Changes go through the domain (the manager's units and rank; a new role or unit signs the
        account out everywhere, e.g. a new manager must pass the second factor first)."""
        _user, error = work.commit(lambda: staff_ops.update_staff(
            model, actor=current_user._get_current_object(), full_name=form.full_name.data, role=form.role.data,
            unit=form.unit.data, phone=form.phone.data, language=form.language.data))
        return error is None

    def _users(self, ids):
        """The selected accounts the manager may see (another unit's account is not even found)."""
        return db.session.scalars(self.scope(select(Staff)).where(Staff.id.in_(row_ids(ids)))).all()

    def _each(self, ids, change, success):
        """Apply ``change`` to each selected account; one refused is said and skipped, the rest done."""
        work.commit_each(self._users(ids), change, lambda user: user.username, success)

    @action("deactivate", _l("Deactivate"), _l("Deactivate the selected accounts?"))
    def action_deactivate(self, ids):
        self._each(ids, lambda user, actor: staff_ops.set_active(user, False, actor=actor),
                   _l("Accounts deactivated."))

    @action("activate", _l("Activate"))
    def action_activate(self, ids):
        def activate(user, actor):
            staff_ops.set_active(user, True, actor=actor)
            staff_ops.unlock(user)

        self._each(ids, activate, _l("Accounts activated."))

    @action("unlock", _l("Unlock sign-in"))
    def action_unlock(self, ids):
        self._each(ids, lambda user, actor: sign_in.unlock_account(user, actor=actor), _l("Accounts unlocked."))

    @action("reset_2fa", _l("Reset authenticator app"), _l("They will set up a new one at next sign-in. Continue?"))
    def action_reset_2fa(self, ids):
        self._each(ids, lambda user, actor: staff_ops.reset_second_factor(user, actor=actor),
                   _l("Authenticator apps reset."))


def _locked_until(user: Staff) -> str:
    """Local time the account's sign-in lock ends, or "-" when it is not locked."""
    until = lockout.locked_until(user)
    return clock.format_date(until, "minute")
