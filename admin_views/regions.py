"""The district's territory and its units, for managers: regions (read-only, from the official list)
and units (Puskesos posts opened, changed and closed through slrt.units)."""

from __future__ import annotations

from flask import url_for
from flask_admin.actions import action
from flask_admin.contrib.sqla import filters as sqla_filters
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from markupsafe import Markup
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload
from wtforms import StringField

from admin_views import work
from admin_views.base import RowIdAjaxLoader, SecureModelView
from admin_views.security import staff_scope
from slrt import identity, units
from slrt.access import MANAGER_ROLES
from slrt.extensions import db
from slrt.models import Region, Unit
from slrt.models.base import row_ids
from slrt.models.enums import RegionLevel, UnitKind, VillageKind


def _region_label(region: Region | None) -> str:
    """"Kepoh, Kec. Jati (33.16.01.2003)": a village's name alone is not unique in a regency."""
    if region is None:
        return "-"
    parent = f", {region.parent.name}" if region.parent is not None and region.level == RegionLevel.VILLAGE else ""
    return f"{region.name}{parent} ({region.code})"


class ParentFilter(sqla_filters.FilterEqual):
    """The children of one region (the tree's "children" link): by the parent's row id."""

    def clean(self, value):
        ids = row_ids([value])
        if not ids:
            raise ValueError("not a row id")
        return ids[0]

    def validate(self, value):
        return bool(row_ids([value]))


class ChoiceFilter(sqla_filters.FilterEqual):
    """Equal to one of its options (an enum's values, labelled in Indonesian); anything else is ignored."""

    def __init__(self, column, name, vocabulary) -> None:
        super().__init__(column, name, options=vocabulary.choices())

    def validate(self, value):
        return value in {option for option, _label in self.options}


class RegionView(SecureModelView):
    """The official regions, read-only: search by name or code, filter by level, walk the tree."""

    read_roles = MANAGER_ROLES
    column_list = ["code", "name", "level", "village_kind", "parent", "children", "is_active"]
    column_labels = {"code": _l("Code"), "name": _l("Name"), "level": _l("Level"), "village_kind": _l("Kind"),
                     "parent": _l("Part of"), "children": _l("Below it"), "is_active": _l("In the official list")}
    column_searchable_list = ["name", "code"]
    column_sortable_list = ["code", "name"]
    column_default_sort = "code"
    #: The parent filter first: the "below it" links name it as filter 0.
    column_filters = [
        ParentFilter(Region.parent_id, _l("Part of (id)")),
        ChoiceFilter(Region.level, _l("Level"), RegionLevel),
        ChoiceFilter(Region.village_kind, _l("Kind"), VillageKind),
        sqla_filters.BooleanEqualFilter(Region.is_active, _l("In the official list")),
    ]
    column_formatters = {
        "level": lambda v, c, m, n: m.level.label,
        "village_kind": lambda v, c, m, n: m.village_kind.label if m.village_kind else "",
        "parent": lambda v, c, m, n: Markup('<a href="{0}">{1}</a>').format(
            url_for(".index_view", flt0_0=m.parent.id), m.parent.name) if m.parent is not None else "",
        "children": lambda v, c, m, n: "" if m.level == RegionLevel.VILLAGE else Markup(
            '<a href="{0}">{1}</a>').format(url_for(".index_view", flt0_0=m.id), _l("list")),
    }
    can_view_details = False

    def get_query(self):
        return super().get_query().options(joinedload(Region.parent))


class AreaVillageLoader(RowIdAjaxLoader):
    """Villages to pick for a post: active ones of the regencies the signed-in manager's secretariats serve."""

    def get_query(self):
        areas = staff_scope().areas
        query = super().get_query().filter(Region.level == RegionLevel.VILLAGE, Region.is_active)
        if not areas:
            return query.filter(Region.id.is_(None))
        return query.filter(or_(*(Region.code.startswith(f"{code}.", autoescape=True) for code in areas)))

    def format(self, model):
        return None if model is None else (model.id, _region_label(model))


class SecretariatLoader(RowIdAjaxLoader):
    """The secretariats the signed-in manager covers."""

    def get_query(self):
        return super().get_query().filter(Unit.kind == UnitKind.SECRETARIAT, Unit.is_active,
                                          Unit.id.in_(staff_scope().unit_ids))


def _villages(view, context, model, name):
    return ", ".join(v.name for v in model.villages)


class UnitView(SecureModelView):
    """The secretariat and its Puskesos posts; managers open a post for a village or a group of villages."""

    read_roles = create_roles = edit_roles = MANAGER_ROLES
    column_list = ["name", "kind", "region", "villages", "parent", "phone", "is_active"]
    column_labels = {"name": _l("Name"), "kind": _l("Kind"), "region": _l("Village or area"),
                     "villages": _l("Also serves"), "parent": _l("Reports to"), "phone": _l("Phone"),
                     "address": _l("Address"), "is_active": _l("Open"), "head_name": _l("Head of office"),
                     "head_nip": _l("Head's NIP")}
    column_formatters = {
        "kind": lambda v, c, m, n: m.kind.label,
        "region": lambda v, c, m, n: _region_label(m.region),
        "villages": _villages,
        "parent": lambda v, c, m, n: m.parent.name if m.parent is not None else "",
    }
    column_searchable_list = ["name"]
    column_filters = [
        ChoiceFilter(Unit.kind, _l("Kind"), UnitKind),
        sqla_filters.BooleanEqualFilter(Unit.is_active, _l("Open")),
    ]
    column_default_sort = "name"
    form_columns = ["name", "parent", "region", "villages", "address", "phone", "head_name", "nip"]
    # The NIP is typed as printed, with spaces (19760312 200501 1 004); slrt.units keeps its 18 digits.
    form_extra_fields = {"nip": StringField(_l("Head's NIP"))}
    form_args = {"parent": {"label": _l("Reports to (secretariat)")},
                 "region": {"label": _l("Village where the post is")},
                 "villages": {"label": _l("More villages it serves")}}
    form_ajax_refs = {
        "parent": SecretariatLoader("parent", db, Unit, fields=["name"], page_size=10),
        "region": AreaVillageLoader("region", db, Region, fields=["name", "code"], page_size=10),
        "villages": AreaVillageLoader("villages", db, Region, fields=["name", "code"], page_size=10),
    }
    column_details_list = ["name", "kind", "region", "villages", "parent", "address", "phone", "head_name",
                           "head_nip", "is_active"]
    column_formatters_detail = {**column_formatters,
                                "head_nip": lambda v, c, m, n: identity.format_nip(m.head_nip or "")}

    def get_query(self):
        """The units the signed-in manager covers (their unit and the units below it)."""
        return super().get_query().filter(Unit.id.in_(staff_scope().unit_ids)).options(
            joinedload(Unit.region).joinedload(Region.parent), joinedload(Unit.parent))

    def get_count_query(self):
        return super().get_count_query().filter(Unit.id.in_(staff_scope().unit_ids))

    def create_model(self, form):
        """Posts are opened by the domain (the manager's secretariat, villages of its regency, a free name)."""
        actor = current_user._get_current_object()
        post, _error = work.commit(lambda: units.set_head(units.create_post(
            name=form.name.data, secretariat=form.parent.data, village=form.region.data,
            more_villages=form.villages.data or [], address=form.address.data, phone=form.phone.data,
            actor=actor), name=form.head_name.data, nip=form.nip.data, actor=actor))
        return post or False

    def on_form_prefill(self, form, id):  # noqa: A002 (Flask-Admin's name)
        unit = self.get_one(id)
        if unit is not None and unit.head_nip:
            form.nip.data = identity.format_nip(unit.head_nip)

    def edit_form(self, obj=None):
        """A secretariat's form has its name, address and phone only: its regency is set up, not chosen."""
        form = super().edit_form(obj)
        if obj is not None and obj.kind == UnitKind.SECRETARIAT:
            for name in ("parent", "region", "villages"):
                delattr(form, name)
        return form

    def update_model(self, form, model):
        actor = current_user._get_current_object()
        if model.kind == UnitKind.SECRETARIAT:
            _unit, error = work.commit(lambda: units.set_head(units.update_secretariat(
                model, name=form.name.data, address=form.address.data, phone=form.phone.data, actor=actor),
                name=form.head_name.data, nip=form.nip.data, actor=actor))
            return error is None
        _post, error = work.commit(lambda: units.set_head(units.update_post(
            model, name=form.name.data, village=form.region.data, more_villages=form.villages.data or [],
            address=form.address.data, phone=form.phone.data, actor=actor),
            name=form.head_name.data, nip=form.nip.data, actor=actor))
        return error is None

    def _each(self, ids, change, success):
        """Apply ``change`` to each selected post of the manager's scope; one refused is said and skipped."""
        posts = db.session.scalars(select(Unit).where(Unit.id.in_(row_ids(ids)),
                                                      Unit.id.in_(staff_scope().unit_ids))).all()
        work.commit_each(posts, change, lambda unit: unit.name, success)

    @action("deactivate", _l("Close the post"),
            _l("Close the selected posts? Their cases stay with the secretariat."))
    def action_deactivate(self, ids):
        self._each(ids, lambda unit, actor: units.deactivate_post(unit, actor=actor), _l("Posts closed."))

    @action("activate", _l("Open the post again"))
    def action_activate(self, ids):
        self._each(ids, lambda unit, actor: units.activate_post(unit, actor=actor), _l("Posts opened again."))
