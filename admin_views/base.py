"""The one secure base for every staff screen: default-deny, role per verb, unit scoping.

Each view declares which roles may read, create, edit, delete and export, and how its
query is narrowed to what the signed-in staff member may see (``scope``). The same
narrowing is applied to the list, the pager, the detail, edit and delete pages and to
exports, so a Puskesos user cannot reach another village's record even by URL (404).
Lists use Flask-Admin's simple pager: no COUNT(*) of a large table on every page view.
"""

from __future__ import annotations

import itertools
import os
from datetime import UTC, date, datetime

from flask import abort, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView, expose
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla import filters as sqla_filters
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader, create_ajax_loader
from flask_admin.contrib.sqla.filters import FilterConverter
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.form import BaseForm, Select2Field
from flask_admin.model import filters, typefmt
from flask_admin.model.form import converts
from flask_babel import Domain
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import Enum, Integer, String, Text, func, select
from werkzeug.routing import IntegerConverter
from wtforms import PasswordField, validators
from wtforms.i18n import messages_path

from admin_views.search import TokenSearchMixin, term_of
from admin_views.security import staff_scope
from slrt import audit, clock, csvout, text
from slrt.access import (
    ALL_ROLES,
    FULL_EXPORT_REASON_LENGTH,
    NO_ROLES,
    check_full_export,
    in_scope,
    keeps_settings,
    may_export_full,
)
from slrt.errors import DomainError
from slrt.extensions import db
from slrt.models.base import MAX_ROW_ID, row_id, row_ids
from slrt.models.enums import AuditAction, Labelled, Role


def staff_role() -> Role | None:
    if not current_user.is_authenticated or not current_user.is_active:
        return None
    return Role(current_user.role)


class RowIdConverter(IntegerConverter):
    """``<id:case_id>`` in a route: a row id, 1 to MAX_ROW_ID; any other number is not found (404)
    before the view runs (PostgreSQL answers a number beyond INTEGER with an error)."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        super().__init__(url_map, min=1, max=MAX_ROW_ID)


class RowIdAjaxLoader(QueryAjaxModelLoader):
    """Flask-Admin's lookup for a form's related record (a contact's agency, a staff member's unit)
    that takes only a row id: anything else posted in the field is no record (the field says so)."""

    def get_one(self, pk):
        try:
            return super().get_one(row_id(pk))
        except ValueError:
            return None


#: The longest address the sign-in page is told to return to.
MAX_NEXT = 2000


class SecureMixin:
    """Default deny: only signed-in, active staff whose role is listed may enter."""

    read_roles: frozenset = NO_ROLES

    def is_accessible(self) -> bool:
        return staff_role() in self.read_roles

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            # Back to the page after signing in; a query too long to carry (a proxy refuses such a header)
            # is left behind, the page itself is not.
            back = request.full_path if len(request.full_path) <= MAX_NEXT else request.path[:MAX_NEXT]
            return redirect(url_for("security.login", next=back))
        abort(403)


def full_export_reason() -> tuple[str | None, str | None]:
    """The reason a manager gave for a download with full NIK and KK numbers (the POSTed ``reason``):
    (reason, None), or (None, what is wrong) for the form to say (slrt.access.check_full_export)."""
    try:
        return check_full_export(current_user._get_current_object(), request.form.get("reason")), None
    except DomainError as exc:
        return None, str(exc)


def full_export_format(formats: tuple[str, ...]) -> str:
    """The file format the full-export form asked for; the first one when it asked for none we make."""
    asked = request.form.get("format")
    return asked if asked in formats else formats[0]


def render_full_export_form(view: BaseView, *, what: str, back: str, formats: tuple[str, ...],
                            error: str | None = None):
    """The form that asks a manager why they need full NIK and KK numbers before the download."""
    return view.render("admin/export_full.html", what=what, back=back, formats=formats, error=error,
                       action=request.full_path if request.query_string else request.path,
                       reason=request.form.get("reason", ""), reason_max=FULL_EXPORT_REASON_LENGTH[1])


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

    @filters.convert("enum")
    def conv_enum(self, column, name, options=None, **kwargs):
        """Choices in words (the enum's labels), sending the stored value."""
        enum_class = getattr(column.type, "enum_class", None)
        if not options and enum_class is not None and issubclass(enum_class, Labelled):
            options = enum_class.choices
        return super().conv_enum(column, name, options, **kwargs)

    @filters.convert("utcdatetime")
    def conv_utc_datetime(self, column, name, **kwargs):
        return [_aware(f)(column, name, **kwargs) for f in self.datetime_filters]


class SlrtModelConverter(AdminModelConverter):
    """Form dropdowns of enum columns in words (the enum's labels), sending the stored value."""

    @converts("sqlalchemy.sql.sqltypes.Enum")
    def convert_enum(self, column, field_args, **extra):
        enum_class = getattr(column.type, "enum_class", None)
        if enum_class is None or not issubclass(enum_class, Labelled):
            return super().convert_enum(column, field_args, **extra)
        choices = enum_class.choices()
        accepted = [value for value, _label in choices]
        if column.nullable:
            field_args["allow_blank"] = True
            accepted.append(None)
        self._nullable_common(column, field_args)
        field_args["choices"] = choices
        field_args["validators"].append(validators.AnyOf(accepted))
        field_args["coerce"] = lambda v: str(v.value) if isinstance(v, enum_class) else v
        return Select2Field(**field_args)


def _label(view, value, name=None):
    return value.label


#: Enum members in words (their labels); dates as Indonesians write them; timestamps in local time
#: (Asia/Jakarta by default), to the minute. Flask-Admin takes the first type a value is an instance
#: of: the labels come first, and datetime (a date too) before date.
TYPE_FORMATTERS = {Labelled: _label, **typefmt.BASE_FORMATTERS}
TYPE_FORMATTERS[datetime] = lambda view, value, name=None: clock.format_date(value, "minute")
TYPE_FORMATTERS[date] = lambda view, value, name=None: clock.format_date(value)
EXPORT_FORMATTERS = {Labelled: lambda view, value, name=None: str(value.label), **typefmt.EXPORT_FORMATTERS}
EXPORT_FORMATTERS[datetime] = TYPE_FORMATTERS[datetime]
EXPORT_FORMATTERS[date] = TYPE_FORMATTERS[date]


class SecureModelView(SecureMixin, TokenSearchMixin, ModelView):
    """A model screen whose verbs and rows depend on the signed-in staff member."""

    form_base_class = AdminForm
    model_form_converter = SlrtModelConverter
    filter_converter = SlrtFilterConverter()
    column_type_formatters = TYPE_FORMATTERS
    column_type_formatters_detail = TYPE_FORMATTERS
    column_type_formatters_export = EXPORT_FORMATTERS
    create_roles: frozenset = NO_ROLES
    edit_roles: frozenset = NO_ROLES
    delete_roles: frozenset = NO_ROLES
    export_roles: frozenset = NO_ROLES

    simple_list_pager = True
    page_size = 25
    can_set_page_size = True
    page_size_options = (25, 50, 100)
    can_view_details = True
    export_types = ["csv"]
    #: Keep the list free of the auto-added "delete" checkbox column for views that cannot delete.
    column_display_actions = True

    #: The view's own search, ``(query, term) -> query`` (indexed lookups by keyed hash or code);
    #: None: Flask-Admin's LIKE over ``column_searchable_list``.
    narrow_search = None

    def _apply_search(self, query, count_query, joins, count_joins, search):
        if self.narrow_search is None:
            return super()._apply_search(query, count_query, joins, count_joins, search)
        return (self.narrow_search(query, search),
                self.narrow_search(count_query, search) if count_query is not None else None, joins, count_joins)

    def _apply_pagination(self, query, page, page_size):
        """Beyond the first page, OFFSET skips only ids: the page's ids are chosen by a query of the
        same filters, joins, order and limit that loads nothing else, then the page's rows (their
        joins and eager loads) are read for those ids alone, in the same order. Page 500 otherwise
        builds the joined rows of the 12,475 it skips."""
        paged = super()._apply_pagination(query, page, page_size)
        if not page or not (self.page_size if page_size is None else page_size):
            return paged  # nothing skipped
        key = self.model.__mapper__.primary_key[0]
        ids = paged.enable_eagerloads(False).with_entities(key).subquery()
        return query.filter(key.in_(select(ids.c[0])))

    def _apply_sorting(self, query, joins, sort_column, sort_desc):
        """The chosen (or default) order, then the primary key: equal sort values (cases opened
        the same minute, a status column) would otherwise come back in any order, and a row
        would repeat on one page and be missing from the next."""
        query, joins = super()._apply_sorting(query, joins, sort_column, sort_desc)
        if sort_column is None:
            order = list(self._get_default_order())
            sort_desc = bool(order and order[-1][2])
        key = self.model.__mapper__.primary_key[0]
        return query.order_by(key.desc() if sort_desc else key.asc()), joins

    #: The records apply to every unit (catalogue, agencies, templates): only staff who cover every
    #: unit change them (slrt.access.keeps_settings), whatever the roles above say.
    applies_everywhere = False

    def _may_change(self, roles: frozenset) -> bool:
        if staff_role() not in roles:
            return False
        if not self.applies_everywhere:
            return True
        return keeps_settings(current_user, staff_scope())  # the coverage is read once per request

    # Flask-Admin reads these flags per request; they follow the signed-in role (and unit).
    @property
    def can_create(self) -> bool:
        return self._may_change(self.create_roles)

    @property
    def can_edit(self) -> bool:
        return self._may_change(self.edit_roles)

    @property
    def can_delete(self) -> bool:
        return self._may_change(self.delete_roles)

    @property
    def can_export(self) -> bool:
        return staff_role() in self.export_roles

    #: The model whose rows are narrowed to the signed-in staff member's units (slrt.access.in_scope);
    #: None: every row (the catalogue, templates).
    scoped_model: type | None = None

    def scope(self, query):
        """Narrow ``query`` to the rows the signed-in staff member may see."""
        if self.scoped_model is None:
            return query
        return query.filter(in_scope(staff_scope(), self.scoped_model))

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
        return value

    #: The audit log's record type of this screen's rows when they hold residents' personal data: its
    #: list and search pages, record pages and exports are logged (slrt.audit). None: not logged.
    audit_type: str | None = None

    def _audit_filters(self) -> dict:
        """What a list or export was asked for, for the log: the filters' names (not their values,
        nor the search term: they may be a name or a NIK) and whether there was a search."""
        args = self._get_list_extra_args()
        names = sorted({str(self._filters[index].name) for index, _flt, _value in args.filters or ()
                        if self._filters and index < len(self._filters)})
        return {"filters": names, "search": bool(args.search), "page": args.page}

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        count, data = super().get_list(page, sort_column, sort_desc, search, filters, execute=execute,
                                       page_size=page_size)
        if execute and self.audit_type and data:
            audit.record_list(AuditAction.SEARCH if term_of(search) else AuditAction.LIST,
                              record_type=self.audit_type, resident_ids=audit.residents_of_rows(data),
                              rows=len(data), detail=self._audit_filters())
        return count, data

    def _audit_export(self, query, export_type: str, full_reason: str | None = None) -> None:
        """One "export" entry; with ``full_reason`` (a manager's export with full NIK and KK numbers) the
        reason is in it, and it is written at once, whatever SLRT_AUDIT says (the caller commits)."""
        if not self.audit_type:
            return
        ids = query.with_entities(self.model.__mapper__.primary_key[0]).order_by(None).subquery()
        rows = db.session.scalar(select(func.count()).select_from(ids))
        detail = {**self._audit_filters(), "format": export_type}
        if full_reason is None:
            audit.record_list(AuditAction.EXPORT, record_type=self.audit_type, rows=rows,
                              resident_ids=audit.residents_of_query(self.model, ids), detail=detail)
            return
        audit.record(AuditAction.EXPORT, rows=rows, resident_ids=audit.residents_of_query(self.model, ids),
                     detail={"type": self.audit_type, **detail, "full": True, "reason": full_reason})

    #: Export columns shown masked (a NIK, a KK number) whose full value a manager may ask for with a
    #: reason (:meth:`export_full_view`): column -> the row's full value.
    full_export_values: dict = {}

    @property
    def can_export_full(self) -> bool:
        return bool(self.full_export_values) and self.can_export and may_export_full(current_user)

    def _export_csv(self, return_url, full_reason: str | None = None):
        """The rows through the one CSV writer of every export (formula-safe, one format); with
        ``full_reason`` (a manager's, checked) the columns of :attr:`full_export_values` in full."""
        _count, data = self._export_data()
        self._audit_export(data, "csv", full_reason)
        if full_reason is not None:
            db.session.commit()  # the entry, before the file streams
        columns = self._export_columns
        full_values = self.full_export_values if full_reason is not None else {}

        def value(row, name):
            return full_values[name](row) if name in full_values else self.get_export_value(row, name)

        rows = itertools.chain([[str(title) for _name, title in columns]],
                               ([value(row, name) for name, _title in columns] for row in data))
        return csvout.response(rows, self.get_export_name(export_type="csv"))

    @expose("/export-full/", methods=["GET", "POST"])
    def export_full_view(self):
        """The list's export (same filters and search) with full NIK and KK numbers, for a manager who says
        why; everyone else's exports show them masked."""
        back = self.get_url(".index_view", **request.args)
        if request.method == "POST":
            reason, error = full_export_reason()
            if error is None:
                return self._export_csv(back, full_reason=reason)
        else:
            error = None
        return render_full_export_form(self, what=str(self.name), back=back, formats=("csv",), error=error)

    def get_invalid_value_msg(self, value, filter):
        """Flask-Admin's message with the value cut short: flashed messages travel in the session cookie."""
        return super().get_invalid_value_msg(value if len(value) <= 40 else f"{value[:40]}...", filter)

    def get_one(self, id, audited: bool = True):
        """The record of ``id`` the staff member may see, or 404; a GET's read of it is logged unless
        ``audited`` is False (the caller logs what it shows instead, e.g. a reveal)."""
        pk = self.model.__mapper__.primary_key[0]
        try:
            # Not an id ("abc", "٧", a number beyond INTEGER, which PostgreSQL answers with an error): 404.
            ident = row_id(id) if isinstance(pk.type, Integer) else id
        except ValueError:
            abort(404)
        found = self.get_query().filter(pk == ident).one_or_none()
        if found is None:
            abort(404)
        if audited and self.audit_type and request.method == "GET":
            # A record's page (details, edit form) shows its personal data, and maybe others' (a family).
            audit.record_view(found, also=self.audit_also(found))
        return found

    def audit_also(self, found) -> list[int]:
        """Other residents whose data ``found``'s page shows (a resident's family): logged with its read."""
        return []

    #: Which flag guards which Flask-Admin endpoint.
    _VERB_FLAGS = {"create_view": "can_create", "edit_view": "can_edit", "delete_view": "can_delete",
                   "export": "can_export", "export_full_view": "can_export_full"}

    def _create_ajax_loader(self, name, options):
        loader = create_ajax_loader(self.model, self.session, name, name, options)
        return RowIdAjaxLoader(name, self.session, loader.model, **options)

    #: Numbers Flask-Admin reads from the query string itself (``type=int``) and gives the database as
    #: OFFSET or LIMIT, per endpoint: beyond 0..MAX_ROW_ID (PostgreSQL errors, SQLite overflows), 404.
    _PAGING_ARGS = {"index_view": ("page",), "ajax_lookup": ("offset", "limit")}

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
        for arg in self._PAGING_ARGS.get(name, ()):
            number = request.args.get(arg, type=int)
            if number is not None and not 0 <= number <= MAX_ROW_ID:
                abort(404)
        if name == "action_view" and len(row_ids(request.form.getlist("rowid"))) != len(request.form.getlist("rowid")):
            abort(400)  # an action's rows are row ids (Flask-Admin's own delete action gives them to the database)
        return None

    def validate_form(self, form):
        """WTForms' checks, then the domain's for what is stored in a column: text (slrt.text: the
        column's length, no control characters) and numbers an INTEGER holds; said beside each field."""
        valid = super().validate_form(form)
        columns = self.model.__mapper__.column_attrs
        for field in form:
            prop = columns.get(field.name) if field.name in columns else None
            if prop is None or isinstance(field, PasswordField) or field.errors:
                continue  # not stored as typed, or already refused (WTForms' own length check, ...)
            column = prop.columns[0]
            error = None
            if isinstance(column.type, String) and not isinstance(column.type, Enum) and isinstance(field.data, str):
                try:
                    field.data = text.clean(field.data, column, field=field.name, label=field.label.text,
                                            multiline=isinstance(column.type, Text))
                except DomainError as exc:
                    error = str(exc)
            elif isinstance(column.type, Integer) and isinstance(field.data, int) and \
                    not -MAX_ROW_ID <= field.data <= MAX_ROW_ID:
                error = str(_l("%(label)s: the number is too large.", label=field.label.text))
            if error:
                field.errors = [*field.errors, error]
                valid = False
        return valid
