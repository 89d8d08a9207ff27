"""Residents and households: searched by NIK, KK, phone or name; personal data masked in lists."""

from __future__ import annotations

import io
from dataclasses import dataclass

from flask import abort, flash, g, redirect, request, send_file, url_for
from flask_admin import expose
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import false, or_, select
from sqlalchemy.orm import joinedload

from admin_views import work
from admin_views.base import SecureModelView, staff_role
from admin_views.security import staff_scope
from slrt import audit, audit_search, clock, dtsen, erasure, identity, residents, subject_access
from slrt.access import (
    ALL_ROLES,
    MANAGER_ROLES,
    OVERSIGHT_ROLES,
    check_reveal,
    may_reveal_kk,
    may_reveal_nik,
    sees_access_history,
)
from slrt.errors import DomainError, PermissionDenied, ValidationError
from slrt.extensions import db
from slrt.models import Household, Resident
from slrt.models.enums import AuditAction, Language, PhoneOwner, label_of
from slrt.pii import vault

#: The phone owners' words by member (the intake form's choices); declared in slrt.models.enums.
PHONE_OWNER_LABELS = {owner: owner.label for owner in PhoneOwner}


def classify_search(text: str) -> tuple[str, str]:
    """Say what a search box entry is: ('nik', digits), ('phone', e164) or ('name', text)."""
    raw = (text or "").strip()
    digits = "".join(ch for ch in raw if ch.isdigit())
    if len(digits) == 16 and all(ch.isdigit() or ch in " -." for ch in raw):
        return "id16", digits
    if digits and len(digits) >= 9 and not any(ch.isalpha() for ch in raw):
        try:
            return "phone", identity.normalize_mobile(raw)
        except ValidationError:
            return "none", raw
    return "name", raw


def resident_search(query, text: str):
    """Search that uses indexes: exact NIK/KK by keyed hash, phone by E.164, names by any word."""
    kind, value = classify_search(text)
    if kind == "id16":
        nik_hash, kk_hash = vault.lookup_hash("nik", value), vault.lookup_hash("kk", value)
        households = select(Household.id).where(Household.kk_hash == kk_hash)
        return query.filter(or_(Resident.nik_hash == nik_hash, Resident.household_id.in_(households)))
    if kind == "phone":
        return query.filter(Resident.phone == value)
    if kind == "none":
        return query.filter(False)
    if not value.strip():
        return query
    found = residents.named(value)  # by any word of the name, through the name-word index
    return query.filter(false()) if found is None else query.filter(Resident.id.in_(found))


def household_search(query, text: str):
    """Families by KK number or a member's NIK (keyed hashes), or by DTKS id; all through indexes."""
    kind, value = classify_search(text)
    if kind == "id16":
        members = select(Resident.household_id).where(Resident.nik_hash == vault.lookup_hash("nik", value))
        return query.filter(or_(Household.kk_hash == vault.lookup_hash("kk", value), Household.id.in_(members)))
    if not value.strip():
        return query
    return query.filter(Household.dtks_id == value.strip()) if kind == "name" else query.filter(false())


def _phone(view, context, model, name):
    if not model.phone:
        return "-"
    owner = "" if model.phone_owner == PhoneOwner.OWN else f" ({model.phone_owner.label})"
    return identity.mask_phone(model.phone) + owner


#: What a "Tampilkan" button reveals: the form's ``what`` -> the button's words.
REVEAL_LABELS = {"nik": _l("Show NIK"), "kk": _l("Show KK")}


def _revealed(what: str, record) -> bool:
    """Whether this page answers the button that reveals ``what`` of ``record`` (one page, one record)."""
    return g.get("slrt_revealed") == (what, record.id)


def reveal_button(endpoint: str, record_id: int, what: str) -> Markup:
    """A "Tampilkan NIK"/"Tampilkan KK" button: a POST with its CSRF token; the URL holds the page's id only."""
    return Markup('<form method="post" action="{}" class="reveal d-inline ml-2">'
                  '<input type="hidden" name="csrf_token" value="{}"><input type="hidden" name="what" value="{}">'
                  '<button type="submit" class="btn btn-outline-secondary btn-sm" data-reveal="{}">{}</button>'
                  '</form>').format(url_for(endpoint, id=record_id), generate_csrf(), what, what, REVEAL_LABELS[what])


def shown_number(what: str, record, *, masked: str, full, may: bool, endpoint: str, page_id: int) -> Markup:
    """A NIK or KK number as a page shows it: masked, with its button for staff who may reveal it;
    in full on the page that answers that button."""
    if _revealed(what, record):
        return Markup('<span class="revealed" data-revealed="{}">{}</span>').format(what, full())
    return Markup("{}{}").format(masked, reveal_button(endpoint, page_id, what) if may else "")


def _nik(view, context, model, name):
    return shown_number("nik", model, masked=model.nik_masked, full=lambda: model.nik, endpoint="resident.reveal_view",
                        may=may_reveal_nik(current_user, staff_scope(), model), page_id=model.id)


def _birth_date(view, context, model, name):
    """The birth date; of an erased resident only the year is kept (the day and month read 1 January)."""
    if model.birth_date is None:
        return "-"
    return str(model.birth_date.year) if erasure.is_erased(model) else clock.format_date(model.birth_date)


def _household_kk(view, context, model, name):
    household = model.household
    if household is None:
        return "-"
    return shown_number("kk", household, masked=household.kk_masked, full=lambda: household.kk_number,
                        may=may_reveal_kk(current_user, staff_scope(), household), endpoint="resident.reveal_view",
                        page_id=model.id)


@dataclass(frozen=True)
class AccessHistory:
    """A page of a resident's access history as the resident's page shows it."""

    entries: list
    #: The page of older entries, if any.
    more: str | None


class RevealMixin:
    """The page's "Tampilkan" buttons: POST ``what`` (``nik``, ``kk``) to ``reveal/?id=<page's id>``; the
    answer is the page itself with that number in full, for staff whose role may (slrt.access), audited."""

    def reveal_record(self, model, what: str):
        """The resident or household whose ``what`` the page of ``model`` reveals; None: nothing to reveal."""
        raise NotImplementedError

    @expose("/reveal/", methods=["POST"])
    def reveal_view(self):
        model = self.get_one(request.args.get("id"))  # 404 outside the staff member's villages
        what = request.form.get("what")
        record = self.reveal_record(model, what) if what in REVEAL_LABELS else None
        if record is None or erasure.is_erased(record):  # an erased number: nothing to show, nothing to log
            abort(404)
        try:
            check_reveal(current_user._get_current_object(), record)
        except PermissionDenied:
            abort(403)
        # One entry per click, whatever SLRT_AUDIT says (a reveal is not a mere read), before the page shows it.
        audit.record(AuditAction.REVEAL_NIK if what == "nik" else AuditAction.REVEAL_KK, record=record,
                     resident_ids=audit.residents_of(record))
        db.session.commit()
        g.slrt_revealed = (what, record.id)
        return self.details_view()


class ResidentView(RevealMixin, SecureModelView):
    read_roles = ALL_ROLES
    edit_roles = ALL_ROLES
    export_roles = OVERSIGHT_ROLES

    column_list = ["name", "nik_masked", "sex", "birth_date", "village", "phone"]
    column_labels = {"name": _l("Name"), "nik_masked": "NIK", "nik": "NIK", "sex": _l("Sex"),
                     "birth_date": _l("Birth date"), "village": _l("Village"), "phone": _l("Phone"),
                     "address": _l("Address"),
                     "household": _l("Household (KK)"), "phone_owner": _l("Whose phone"),
                     "phone_owner_name": _l("Phone holder"), "is_sms_opted_out": _l("SMS stopped"),
                     "language": _l("SMS language"), "created_at": _l("Registered"),
                     "birth_place": _l("Birth place"), "dtsen": "DTSEN", "family": _l("Family members (KK)")}
    column_formatters = {"phone": _phone, "village": lambda v, c, m, n: m.village.name}
    column_default_sort = ("id", True)
    column_sortable_list = ["name", "birth_date"]
    column_searchable_list = ["name"]  # replaced by resident_search below (indexed lookups)
    column_filters = ["sex", "is_sms_opted_out"]
    column_details_list = ["name", "nik", "sex", "birth_date", "birth_place", "village", "address", "dtsen",
                           "household", "family", "phone", "phone_owner", "phone_owner_name", "is_sms_opted_out",
                           "language", "created_at"]
    column_formatters_detail = {
        "nik": _nik,
        "birth_date": _birth_date,
        "birth_place": lambda v, c, m, n: m.birth_place or "-",
        "dtsen": lambda v, c, m, n: dtsen.status_line(m),
        "family": lambda v, c, m, n: family_table(m.household),
        "phone": lambda v, c, m, n: identity.display_phone(m.phone) if m.phone else "-",
        "household": _household_kk,
        "village": lambda v, c, m, n: m.village.name,
        "language": lambda v, c, m, n: label_of(Language, m.language),
    }
    #: A manager's export with a reason has the full NIK in the NIK column (admin_views.base).
    full_export_values = {"nik_masked": lambda resident: resident.nik}
    form_columns = ["name", "address", "phone", "phone_owner", "phone_owner_name", "language"]
    form_choices = {"language": Language.choices()}
    list_template = "admin/model/list.html"
    details_template = "admin/resident_details.html"  # data rights buttons; "Riwayat akses" (access_history)
    #: Residents of the villages the staff member's units serve (all for the secretariat).
    scoped_model = Resident
    audit_type = "resident"

    def audit_also(self, found: Resident) -> list[int]:
        # The details page lists the family of the KK (those of the staff member's villages).
        if found.household is None or not (request.endpoint or "").endswith("details_view"):
            return []
        return [member.resident_id for member in _family(found.household)]

    def get_query(self):
        return super().get_query().options(joinedload(Resident.village))

    def narrow_search(self, query, term):
        return resident_search(query, term)

    def search_placeholder(self):
        return str(_l("NIK, KK, phone or name"))

    def reveal_record(self, model, what):
        return model if what == "nik" else model.household

    def access_history(self, resident):
        """The resident's "Riwayat akses" for supervisors and managers (slrt.access.sees_access_history),
        ``before`` a cursor in the URL for older ones; None for everyone else."""
        if not sees_access_history(current_user):
            return None
        found = audit_search.access_history(resident.id, audit_search.parse_cursor(request.args.get("before")))
        more = url_for(".details_view", id=resident.id, before=found.next.token()) if found.next else None
        return AccessHistory(found.entries, more)

    def update_model(self, form, model):
        """Changes go through the domain, checked as at intake (name, address, mobile number, the village)."""
        _resident, error = work.commit(lambda: residents.update_resident(
            model, actor=current_user._get_current_object(), name=form.name.data, address=form.address.data,
            phone=form.phone.data, phone_owner=form.phone_owner.data, phone_owner_name=form.phone_owner_name.data,
            language=form.language.data))
        return error is None

    # ---- the resident's data rights (UU PDP 27/2022): export everything, erase --------------------
    @property
    def may_manage_data(self) -> bool:
        """Managers see the buttons to export and erase a resident's data (the domain checks again)."""
        return staff_role() in MANAGER_ROLES

    def _data_rights_resident(self, resident_id: int) -> Resident:
        if not self.may_manage_data:
            abort(403)
        return self.get_one(resident_id)  # 404 outside the staff member's villages

    @expose("/<id:resident_id>/subject-export", methods=["POST"])
    def subject_export_view(self, resident_id):
        """Download everything held about the resident: a ZIP named without the NIK."""
        resident = self._data_rights_resident(resident_id)
        data, error = work.commit(lambda: subject_access.subject_export(resident, current_user._get_current_object()))
        if error is not None:
            return redirect(self.get_url(".details_view", id=resident.id))
        return send_file(io.BytesIO(data), mimetype="application/zip", as_attachment=True,
                         download_name=subject_access.filename(resident))

    @expose("/<id:resident_id>/erase", methods=["POST"])
    def erase_view(self, resident_id):
        """Erase the resident's personal data, after a page that says what will happen and asks again."""
        resident = self._data_rights_resident(resident_id)
        back = self.get_url(".details_view", id=resident.id)
        reason = request.form.get("reason", "")
        actor = current_user._get_current_object()
        if not request.form.get("confirmed"):
            try:
                consequences = erasure.erase_consequences(resident, reason=reason, actor=actor)
            except DomainError as exc:
                flash(str(exc), "error")
                return redirect(back)
            return self.render("admin/confirm.html", title=_l("Erase this resident's personal data?"),
                               consequences=consequences, action=url_for(".erase_view", resident_id=resident.id),
                               back=back, button=_l("Yes, erase the data"), confirm_field="confirmed",
                               fields=[("reason", reason)], danger=True)
        _done, error = work.commit(lambda: erasure.erase_resident(resident, reason=reason, actor=actor))
        if error is None:
            flash(_l("The resident's personal data is erased."), "success")
        return redirect(back)


def _family(household) -> list:
    """dtsen.family for the staff member, once per request (the page's audit entry and its table both ask)."""
    if household is None:
        return []
    cache = g.setdefault("slrt_families", {})
    if household.id not in cache:
        cache[household.id] = dtsen.family(household, staff_scope())
    return cache[household.id]


def family_table(household) -> Markup:
    """The family of the KK as a table: name, place in the family, age, masked NIK, DTSEN status; only the
    members of the villages the staff member covers (slrt.dtsen.family)."""
    members = _family(household)
    if not members:
        return Markup("-")
    head = Markup("").join(Markup("<th>{}</th>").format(word) for word in (
        _l("Name"), _l("Relation"), _l("Age"), "NIK", "DTSEN"))
    rows = Markup("").join(
        Markup('<tr data-member="{}"{}><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>')
        .format(m.resident_id, Markup(' class="deceased"') if m.is_deceased else "",
                url_for("resident.details_view", id=m.resident_id), m.name, m.relation, m.age, m.nik_masked, m.dtsen)
        for m in members)
    return Markup('<table class="table table-sm family"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>').format(
        head, rows)


def _members(view, context, model, name):
    return family_table(model)


def _kk(view, context, model, name):
    return shown_number("kk", model, masked=model.kk_masked, full=lambda: model.kk_number,
                        may=may_reveal_kk(current_user, staff_scope(), model), endpoint="household.reveal_view",
                        page_id=model.id)


class HouseholdView(RevealMixin, SecureModelView):
    read_roles = ALL_ROLES
    column_list = ["kk_masked", "village", "dtks_id"]
    column_labels = {"kk_masked": "KK", "kk_number": _l("KK number"), "address": _l("Address"),
                     "village": _l("Village"), "dtks_id": "DTKS", "members": _l("Family members"),
                     "desil": _l("DTSEN desil"), "dtsen_as_of": _l("DTSEN data as of")}
    column_formatters = {"village": lambda v, c, m, n: m.village.name}
    column_details_list = ["kk_number", "address", "village", "dtks_id", "desil", "dtsen_as_of", "members"]
    column_formatters_detail = {
        "kk_number": _kk,
        "village": lambda v, c, m, n: m.village.name,
        "members": _members,
    }

    column_searchable_list = ["dtks_id"]  # replaced by household_search below (indexed lookups)

    scoped_model = Household
    audit_type = "household"

    def get_query(self):
        return super().get_query().options(joinedload(Household.village))

    def narrow_search(self, query, term):
        return household_search(query, term)

    def search_placeholder(self):
        return str(_l("KK number, a member's NIK or DTKS id"))

    def reveal_record(self, model, what):
        return model if what == "kk" else None
