"""Residents from DTSEN exports: upload, columns, then a worker imports while the page follows it.

The rules, the reading and the writing are slrt.dtsen_import's (rights, columns, rows, the
Puskesos's villages); the files are slrt.dtsen_uploads'. This screen takes the upload (streamed
to the upload folder under a random name), asks which column is which when the file's headers
are not all known, records the import, commits and queues the worker's task, then shows the
run's page, which reloads itself every 2 s (a <meta> refresh: no script) until it is done.

The step between the upload and the start travels in a signed form field (the file's random
name, the user's file name, the date and the mode, for this staff member, for a day): nothing
of it is in a URL or the session cookie.
"""

from __future__ import annotations

import itertools
import logging
import os
import tempfile
from datetime import date

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_admin import expose
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import func, select

from admin_views.base import SecureView, full_export_format, full_export_reason, render_full_export_form
from admin_views.security import staff_scope
from slrt import audit, clock, csvout, dtsen_import, dtsen_uploads, xlsxout
from slrt.access import keeps_settings, may_export_full
from slrt.errors import DomainError
from slrt.extensions import db
from slrt.models import ResidentImport, ResidentImportError
from slrt.models.base import MAX_ROW_ID
from slrt.models.enums import AuditAction, ImportState
from tasks.imports import queue_import

log = logging.getLogger(__name__)

#: A request body this much larger than the file cap is refused unread (the form's other fields are small).
_FORM_ALLOWANCE = 64 * 1024
PAGE_SIZE = 25
#: Refused rows shown on the run's page (all of them are in the downloads).
SHOWN_REFUSED = 20
_SALT = "slrt-dtsen-upload"


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _time_left(record: ResidentImport) -> int | None:
    """Minutes the run still needs at its pace so far; None before there is a pace."""
    if record.state != ImportState.RUNNING or record.started_at is None or not record.rows_done:
        return None
    elapsed = (clock.now() - clock.as_utc(record.started_at)).total_seconds()
    left = max(record.rows_total - record.rows_done, 0)
    if elapsed <= 0:
        return None
    return max(round(left * elapsed / record.rows_done / 60), 0 if not left else 1)


class DtsenImportView(SecureView):
    """Import residents and households from a DTSEN file; the list of imports and each one's page."""

    read_roles = dtsen_import.IMPORT_ROLES

    # --- the form and the list ------------------------------------------------------------------------

    @expose("/")
    def index(self):
        return self._form_page()

    def _form_page(self, error: str | None = None, status: int = 200):
        page = request.args.get("page", 1, type=int)
        if not 1 <= page <= MAX_ROW_ID // PAGE_SIZE:
            abort(404)
        seen = dtsen_uploads.seen_by(staff_scope())
        imports = db.session.scalars(select(ResidentImport).where(seen)
                                     .order_by(ResidentImport.id.desc())
                                     .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
        return self.render("admin/dtsen_import.html", error=error, imports=imports[:PAGE_SIZE], page=page,
                           more=len(imports) > PAGE_SIZE, today=clock.today().isoformat(),
                           max_mb=current_app.config["SLRT_IMPORT_MAX_MB"],
                           as_of=request.form.get("as_of") or clock.today().isoformat(),
                           mode=request.form.get("mode", "dry_run")), status

    # --- step 1: the upload ---------------------------------------------------------------------------

    @expose("/upload", methods=["POST"])
    def upload(self):
        if (request.content_length or 0) > dtsen_uploads.max_bytes() + _FORM_ALLOWANCE:
            return self._form_page(str(dtsen_uploads.too_large()))
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return self._form_page(str(_l("Choose a file.")))
        try:
            as_of = date.fromisoformat(request.form.get("as_of", "").strip())
        except ValueError:
            return self._form_page(str(_l("Give the date the data stands at (data per) as a date.")))
        if as_of > clock.today():
            return self._form_page(str(_l("The data's date cannot be in the future.")))
        dry_run = request.form.get("mode") != "import"
        try:
            path = dtsen_uploads.save(upload.stream)
        except DomainError as exc:
            return self._form_page(str(exc))
        try:
            table = dtsen_import.open_table(path)
            columns = dtsen_import.recognize(table.headers)
        except DomainError as exc:
            dtsen_uploads.remove(path)
            return self._form_page(str(exc))
        dtsen_uploads.remove_stale()
        ticket = _signer().dumps({"file": dtsen_uploads.token_of(path),
                                  "name": os.path.basename(upload.filename.replace("\\", "/"))[:255],
                                  "staff": current_user.id, "as_of": as_of.isoformat(), "dry_run": dry_run,
                                  "headers": table.headers})
        return self._columns_page(ticket, table.headers, columns, {}, name=upload.filename, as_of=as_of,
                                  dry_run=dry_run, total=table.total)

    # --- step 2: the columns --------------------------------------------------------------------------

    def _columns_page(self, ticket, headers, columns, chosen, *, name, as_of, dry_run, total=None, error=None):
        unknown = [(index, header) for index, header in enumerate(headers)
                   if header and header in columns.unknown]
        return self.render("admin/dtsen_import_columns.html", ticket=ticket, error=error,
                           found=[(dtsen_import.FIELDS[key].label, headers[index])
                                  for key, index in sorted(columns.found.items(), key=lambda kv: kv[1])],
                           unknown=unknown, chosen=chosen, fields=dtsen_import.FIELDS,
                           missing=[dtsen_import.FIELDS[key].label for key in columns.missing],
                           may_remember=keeps_settings(current_user, staff_scope()),
                           name=name, as_of=as_of, dry_run=dry_run, total=total)

    def _ticket(self) -> dict | None:
        try:
            ticket = _signer().loads(request.form.get("ticket", ""),
                                     max_age=int(dtsen_uploads.KEEP.total_seconds()))
        except BadData:
            return None
        if not isinstance(ticket, dict) or ticket.get("staff") != current_user.id:
            return None
        return ticket

    @expose("/start", methods=["POST"])
    def start(self):
        ticket = self._ticket()
        path = dtsen_uploads.pending(ticket["file"]) if ticket else None
        if path is None:
            return self._form_page(str(_l("The uploaded file is no longer here (it was started already, or "
                                          "the form is older than a day): upload it again.")))
        headers = [str(h) for h in ticket["headers"]]
        chosen = {}
        for name, key in request.form.items():
            if not name.startswith("col-"):
                continue
            try:
                index = int(name[4:])
            except ValueError:
                continue
            if 0 <= index < len(headers) and (key == dtsen_import.SKIP or key in dtsen_import.FIELDS):
                chosen[index] = key
        mapping = {headers[index]: key for index, key in chosen.items() if headers[index]}
        as_of, dry_run, actor = date.fromisoformat(ticket["as_of"]), bool(ticket["dry_run"]), current_user
        try:
            if mapping and request.form.get("remember") and keeps_settings(current_user, staff_scope()):
                dtsen_import.save_headers(mapping, actor)
            record = dtsen_import.start(path, filename=ticket["name"], actor=actor, as_of=as_of, dry_run=dry_run,
                                        mapping=mapping)
        except DomainError as exc:
            db.session.rollback()
            columns = dtsen_import.recognize(headers, mapping)
            return self._columns_page(request.form["ticket"], headers, columns, chosen, name=ticket["name"],
                                      as_of=as_of, dry_run=dry_run, error=str(exc))
        return self._queue(record, path)

    def _queue(self, record: ResidentImport, path):
        """Name the file after the recorded import, commit, queue the worker's task: the run's page."""
        try:
            path = dtsen_uploads.claim(path, record.id)
        except OSError:  # started twice at once: the other request took the file
            db.session.rollback()
            return self._form_page(str(_l("The uploaded file is no longer here (it was started already, or "
                                          "the form is older than a day): upload it again.")))
        db.session.commit()
        try:
            queue_import(record.id, path)
        except Exception:  # the broker is down: the import is recorded and waits; the operator must know
            log.exception("residents' import %s recorded but not queued", record.id, extra={"import_id": record.id})
            flash(_l("The import is recorded but could not be handed to the background process (the task "
                     "queue does not answer): tell the IT operator, and upload the file again later."), "error")
        return redirect(url_for(".run", import_id=record.id))

    # --- the run ----------------------------------------------------------------------------------------

    def _record(self, import_id: int) -> ResidentImport:
        record = db.session.scalar(select(ResidentImport).where(ResidentImport.id == import_id,
                                                                dtsen_uploads.seen_by(staff_scope())))
        if record is None:
            abort(404)
        return record

    @expose("/<id:import_id>/")
    def run(self, import_id: int):
        record = self._record(import_id)
        working = record.state in (ImportState.QUEUED, ImportState.RUNNING)
        refused = [] if working else dtsen_uploads.first_refused(record, SHOWN_REFUSED)
        if refused:  # names and masked NIKs from the file: a list of personal data
            audit.record_list(AuditAction.LIST, record_type="import", resident_ids=(), rows=len(refused),
                              detail={"import_id": record.id, "refused": True})
        kept = 0 if working else db.session.scalar(
            select(func.count()).select_from(ResidentImportError)
            .where(ResidentImportError.import_id == record.id))
        may_import_now = (record.is_dry_run and record.state == ImportState.DONE
                          and dtsen_uploads.of_import(record.id) is not None)
        return self.render("admin/dtsen_import_run.html", record=record, working=working, refused=refused,
                           kept=kept, minutes_left=_time_left(record), may_import_now=may_import_now,
                           may_export_full=may_export_full(current_user),
                           fields=dtsen_uploads.fields_of(record))

    @expose("/<id:import_id>/import-now", methods=["POST"])
    def import_now(self, import_id: int):
        """The real import of a dry run's file, with its date and columns (no second upload)."""
        dry = self._record(import_id)
        path = dtsen_uploads.of_import(dry.id) if dry.is_dry_run and dry.state == ImportState.DONE else None
        if path is None:
            return self._form_page(str(_l("The file of this dry run is no longer kept (a day at most, or it was "
                                          "imported already): upload it again.")))
        mapping = {header: key for key, header in dtsen_uploads.fields_of(dry).items()}
        try:
            record = dtsen_import.start(path, filename=dry.filename, actor=current_user, as_of=dry.as_of,
                                        dry_run=False, mapping=mapping)
            if record.sha256 != dry.sha256:
                raise dtsen_import.ImportRefused(_l("The file changed since its dry run: upload it again."))
        except DomainError as exc:
            db.session.rollback()
            return self._form_page(str(exc))
        return self._queue(record, path)

    @expose("/<id:import_id>/refused.<extension>")
    def refused(self, import_id: int, extension: str):
        """Every refused row as it was in the file, its NIK and KK cells masked (the row numbers say what to
        fix in the file); a manager may have them in full with a reason (:meth:`refused_full`)."""
        if extension not in ("csv", "xlsx"):
            abort(404)
        record = self._record(import_id)
        header, rows = dtsen_uploads.masked_refused_rows(record)
        audit.record_list(AuditAction.EXPORT, record_type="import", resident_ids=(), rows=record.rows_refused,
                          detail={"import_id": record.id, "refused": True, "format": extension})
        return self._refused_file(record, extension, header, rows, full=False)

    @expose("/<id:import_id>/refused-full/", methods=["GET", "POST"])
    def refused_full(self, import_id: int):
        """The refused rows with full NIK and KK numbers, to fix and import again: a manager's, with a reason."""
        if not may_export_full(current_user):
            abort(403)
        record = self._record(import_id)
        formats = ("xlsx", "csv")
        error = None
        if request.method == "POST":
            reason, error = full_export_reason()
            if error is None:
                extension = full_export_format(formats)
                audit.record(AuditAction.EXPORT, record=("import", record.id), rows=record.rows_refused,
                             detail={"type": "import", "refused": True, "format": extension, "full": True,
                                     "reason": reason})
                db.session.commit()  # the entry, before the file goes
                header, rows = dtsen_import.refused_rows(record)
                return self._refused_file(record, extension, header, rows, full=True)
        return render_full_export_form(self, what=str(_l("Refused rows")), formats=formats, error=error,
                                       back=url_for(".run", import_id=record.id))

    def _refused_file(self, record: ResidentImport, extension: str, header, rows, *, full: bool):
        # Who took the rows away, and which import's (no personal data in the line itself).
        log.info("refused rows of a residents' import downloaded",
                 extra={"import_id": record.id, "staff_id": current_user.id, "format": extension, "full": full})
        filename = f"dtsen-{record.id}-{_l('refused')}.{extension}"
        if extension == "csv":
            return csvout.response(itertools.chain([header], rows), filename)
        handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)
        handle.close()
        try:
            xlsxout.write_rows(handle.name, str(_l("Refused rows")), header, rows)
            data = open(handle.name, "rb")  # noqa: SIM115  (closed by the response)
        finally:
            os.unlink(handle.name)  # the open file is read to its end; no copy stays on disk
        return send_file(data, mimetype=xlsxout.MIMETYPE, as_attachment=True, download_name=filename)
