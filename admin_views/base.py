"""The one secure base for every staff screen: default-deny, role per verb, unit scoping.

Each view declares which roles may read, create, edit, delete and export, and how its
query is narrowed to what the signed-in staff member may see (``scope``). The same
narrowing is applied to the list, the pager, the detail, edit and delete pages and to
exports, so a Puskesos user cannot reach another village's record even by URL (404).
Lists use Flask-Admin's simple pager: no COUNT(*) of a large table on every page view.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

from flask import abort, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla import filters as sqla_filters
from flask_admin.contrib.sqla.filters import FilterConverter
from flask_admin.form import BaseForm
from flask_admin.model import filters, typefmt
from flask_babel import Domain
from flask_security import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import Integer
from wtforms.i18n import messages_path

from slrt import clock
from slrt.models.base import MAX_ROW_ID
from slrt.models.enums import Role

ALL_ROLES = frozenset(Role)
OVERSIGHT = frozenset({Role.SUPERVISOR, Role.MANAGER})
REFERRERS = frozenset({Role.BACK_OFFICE, Role.SUPERVISOR, Role.MANAGER})
MANAGERS = frozenset({Role.MANAGER})
NOBODY: frozenset = frozenset()


def staff_role() -> Role | None:
    if not current_user.is_authenticated or not current_user.is_active:
        return None
    return Role(current_user.role)


class SecureMixin:
    """Default deny: only signed-in, active staff whose role is listed may enter."""

    read_roles: frozenset = NOBODY

    def is_accessible(self) -> bool:
        return staff_role() in self.read_roles

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("security.login", next=request.full_path))
        abort(403)


class SecureIndexView(SecureMixin, AdminIndexView):
    read_roles = ALL_ROLES


class SecureView(SecureMixin, BaseView):
    """A plain page (intake, reports) behind the same rules."""


class _WTFormsWords:
    """WTForms' own messages ("This field is required.") in the user's language.

    WTForms ships no Indonesian catalogue: ours (admin_views/translations) comes first,
    WTForms' own catalogues after it for the other languages.
    """

    def __init__(self) -> None:
        self.domain = Domain([os.path.join(os.path.dirname(__file__), "translations"), messages_path()],
                             domain="wtforms")

    def gettext(self, string: str) -> str:
        return self.domain.get_translations().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.domain.get_translations().ungettext(singular, plural, n)


class AdminForm(BaseForm, FlaskForm):
    """Flask-Admin forms carrying Flask-WTF's CSRF token: the one CSRFProtect checks on every POST.

    (Flask-Admin's own SecureForm uses a second token under the same field name, which
    CSRFProtect would refuse.)
    """

    class Meta(FlaskForm.Meta):
        _words = _WTFormsWords()

        def get_translations(self, form):
            return self._words


def _local_to_utc(value):
    """A filter's naive date-time is local (Asia/Jakarta by default): make it aware UTC."""
    if isinstance(value, list | tuple):
        return [_local_to_utc(v) for v in value]
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=clock.local_zone()).astimezone(UTC)
    return value


_AWARE_FILTERS: dict[type, type] = {}


def _aware(filter_cls: type) -> type:
    if filter_cls not in _AWARE_FILTERS:
        def clean(self, value):
            return _local_to_utc(filter_cls.clean(self, value))

        _AWARE_FILTERS[filter_cls] = type(f"Local{filter_cls.__name__}", (filter_cls,), {"clean": clean})
    return _AWARE_FILTERS[filter_cls]


def _enum_member(enum_class, value):
    """An enum member from a filter's URL value: its value (what the dropdown sends) or its name."""
    if isinstance(value, enum_class):
        return value
    try:
        return enum_class(value)
    except ValueError:
        try:
            return enum_class[value]
        except KeyError:
            raise ValueError(f"not a {enum_class.__name__}") from None  # the filter is ignored, not a 500


def _tolerant(filter_class):
    """Flask-Admin's enum filter looking members up by value or name (it only knew names)."""

    class Tolerant(filter_class):
        def clean(self, value):
            if getattr(self, "enum_class", None) is None:
                return super().clean(value)
            if isinstance(self, sqla_filters.FilterInList):
                return [_enum_member(self.enum_class, v) for v in sqla_filters.FilterInList.clean(self, value)]
            return _enum_member(self.enum_class, value)

    Tolerant.__name__ = filter_class.__name__
    return Tolerant


class SlrtFilterConverter(FilterConverter):
    """Flask-Admin's date filters also for our timezone-aware UTC columns, read in local time;
    enum filters that take the values their own dropdowns send."""

    enum = tuple(_tolerant(f) for f in FilterConverter.enum)

    @filters.convert("utcdatetime")
    def conv_utc_datetime(self, column, name, **kwargs):
        return [_aware(f)(column, name, **kwargs) for f in self.datetime_filters]


#: Dates as Indonesians write them; timestamps in local time (Asia/Jakarta by default).
TYPE_FORMATTERS = dict(typefmt.BASE_FORMATTERS)
TYPE_FORMATTERS[date] = lambda view, value, name=None: value.strftime("%d-%m-%Y")
TYPE_FORMATTERS[datetime] = lambda view, value, name=None: clock.to_local(value).strftime("%d-%m-%Y %H:%M")


class SecureModelView(SecureMixin, ModelView):
    """A model screen whose verbs and rows depend on the signed-in staff member."""

    form_base_class = AdminForm
    filter_converter = SlrtFilterConverter()
    column_type_formatters = TYPE_FORMATTERS
    column_type_formatters_detail = TYPE_FORMATTERS
    create_roles: frozenset = NOBODY
    edit_roles: frozenset = NOBODY
    delete_roles: frozenset = NOBODY
    export_roles: frozenset = NOBODY

    simple_list_pager = True
    page_size = 25
    can_set_page_size = True
    page_size_options = (25, 50, 100)
    can_view_details = True
    export_types = ["csv"]
    #: Keep the list free of the auto-added "delete" checkbox column for views that cannot delete.
    column_display_actions = True

    # Flask-Admin reads these flags per request; they follow the signed-in role.
    @property
    def can_create(self) -> bool:
        return staff_role() in self.create_roles

    @property
    def can_edit(self) -> bool:
        return staff_role() in self.edit_roles

    @property
    def can_delete(self) -> bool:
        return staff_role() in self.delete_roles

    @property
    def can_export(self) -> bool:
        return staff_role() in self.export_roles

    def scope(self, query):
        """Narrow ``query`` to the rows the signed-in staff member may see."""
        return query

    def get_query(self):
        return self.scope(super().get_query())

    def get_count_query(self):
        return self.scope(super().get_count_query())

    #: Rows fetched per round trip when exporting: memory stays flat whatever the table size.
    export_batch_size = 500

    def _export_data(self):
        """Stream the filtered, scoped rows in batches instead of loading them all first."""
        args = self._get_list_extra_args()
        sort = self._get_column_by_idx(args.sort)
        _count, query = self.get_list(0, sort[0] if sort else None, args.sort_desc, args.search, args.filters,
                                      execute=False, page_size=0)
        return None, query.yield_per(self.export_batch_size)

    def get_export_value(self, model, name):
        value = super().get_export_value(model, name)
        if isinstance(value, Markup):
            value = value.striptags()
        # A cell starting like a formula would run in the spreadsheet that opens the export.
        if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
            value = "'" + value
        return value

    def get_one(self, id):
        pk = self.model.__mapper__.primary_key[0]
        try:
            ident = int(id)
        except (TypeError, ValueError):
            abort(404)
        if isinstance(pk.type, Integer) and not 0 < ident <= MAX_ROW_ID:
            abort(404)  # PostgreSQL would refuse the number with an error
        found = self.get_query().filter(pk == ident).one_or_none()
        if found is None:
            abort(404)
        return found

    #: Which flag guards which Flask-Admin endpoint.
    _VERB_FLAGS = {"create_view": "can_create", "edit_view": "can_edit", "delete_view": "can_delete",
                   "export": "can_export"}

    def _handle_view(self, name, **kwargs):
        """Refuse on the server the verbs the role may not use (not only hide their buttons)."""
        response = super()._handle_view(name, **kwargs)
        if response is not None:
            return response
        flag = self._VERB_FLAGS.get(name)
        if flag and not getattr(self, flag):
            abort(403)
        if name == "ajax_lookup" and not (self.can_create or self.can_edit):
            abort(403)  # lookups serve the create and edit forms only
        return None
