"""Bulk set-up from spreadsheets, for managers: templates to download, a dry run, then the import.

The rules and the writing are slrt.setup_import's; this screen takes the file, asks it, commits
(or not, for a dry run) and shows the result. New accounts' one-time passwords are shown in
this answer only: they are in no URL, session, flash message or log.
"""

from __future__ import annotations

from flask import Response, abort, request
from flask_admin import expose
from flask_babel import lazy_gettext as _l
from flask_security import current_user

from admin_views.base import SecureView
from admin_views.security import staff_scope
from slrt import setup_import
from slrt.access import MANAGER_ROLES, keeps_settings
from slrt.errors import DomainError
from slrt.extensions import db
from slrt.models.enums import AGENCY_KIND_LABELS, AGENCY_LEVEL_LABELS, DOMAIN_LABELS, ROLE_LABELS

#: The accepted values of the columns that take one of a list, shown beside the templates.
CHOICES = {
    ("staff", "role"): ROLE_LABELS,
    ("agencies", "kind"): AGENCY_KIND_LABELS,
    ("agencies", "level"): AGENCY_LEVEL_LABELS,
    ("services", "domain"): DOMAIN_LABELS,
}
_MIMETYPES = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
#: A request body this much larger than the file cap is refused unread (the form's other fields are small).
_FORM_ALLOWANCE = 64 * 1024


class SetupImportView(SecureView):
    """Import staff (any manager, in the units they cover), agencies, contacts and services (the district's)."""

    read_roles = MANAGER_ROLES

    def _kinds(self) -> list[str]:
        if keeps_settings(current_user, staff_scope()):
            return list(setup_import.KINDS)
        return [setup_import.STAFF]

    @expose("/", methods=["GET", "POST"])
    def index(self):
        result, error = None, None
        if request.method == "POST":
            result, error = self._import()
        return self.render("admin/setup_import.html", kinds=self._kinds(), kind_labels=setup_import.KIND_LABELS,
                           columns=setup_import.COLUMNS, choices=CHOICES, result=result, error=error,
                           max_rows=setup_import.MAX_ROWS, max_mb=setup_import.MAX_BYTES // (1024 * 1024),
                           chosen=request.form.get("kind", ""), labels=setup_import.ACTION_LABELS)

    def _import(self):
        if (request.content_length or 0) > setup_import.MAX_BYTES + _FORM_ALLOWANCE:
            return None, str(_l("The file is too large: at most %(mb)s MB.",
                                mb=setup_import.MAX_BYTES // (1024 * 1024)))
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return None, str(_l("Choose a file."))
        kind = request.form.get("kind") or None
        if kind is not None and kind not in self._kinds():
            return None, str(_l("Choose what the file holds."))
        dry_run = request.form.get("mode") != "import"
        data = upload.stream.read(setup_import.MAX_BYTES + 1)
        try:
            result = setup_import.import_setup(data, filename=upload.filename, actor=current_user._get_current_object(),
                                               kind=kind, dry_run=dry_run)
        except DomainError as exc:
            db.session.rollback()
            return None, str(exc)
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
        return result, None

    @expose("/template/<kind>.<extension>")
    def template(self, kind: str, extension: str):
        if kind not in setup_import.KINDS or extension not in _MIMETYPES:
            abort(404)
        body = (setup_import.template_csv if extension == "csv" else setup_import.template_xlsx)(kind)
        filename = setup_import.template_filename(kind, extension)
        return Response(body, mimetype=_MIMETYPES[extension],
                        headers={"Content-Disposition": f"attachment; filename={filename}"})
