"""Operator commands: ``flask --app app slrt ...``."""

from __future__ import annotations

import getpass
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import gettext
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from slrt import (
    audit,
    backups,
    breach,
    clock,
    demo,
    dtsen_import,
    dtsen_uploads,
    erasure,
    health,
    identity,
    inbound,
    ops,
    outbox,
    regions,
    reports,
    residents,
    setup_import,
    subject_access,
    units,
    upgrades,
    workdays,
)
from slrt import staff as staff_ops
from slrt.access import SYSTEM_ACTOR
from slrt.codes import format_code
from slrt.errors import DomainError
from slrt.extensions import db
from slrt.models import AgencyContact, Case, Referral, Resident, SmsMessage, Staff, Unit
from slrt.models.enums import AuditAction, ImportState, ReferralStatus, RegionLevel, Role


@click.pass_context
def _as_operator(ctx: click.Context) -> None:
    # What a command does is the operator's doing (the audit log names them: OS user@host).
    ctx.with_resource(audit.acting_as(audit.operator()))


slrt_cli = AppGroup("slrt", help="SLRT operator commands.", callback=_as_operator)


def _fail(message: str) -> None:
    click.echo(click.style(gettext("Error: %(message)s", message=message), fg="red"), err=True)
    sys.exit(1)


def _staff(username: str) -> Staff:
    """The account named ``username``, or exit with a clear error."""
    user = db.session.scalar(select(Staff).where(Staff.username == username.strip().lower()))
    if user is None:
        _fail(gettext("No staff account is named %(name)s.", name=repr(username)))
    return user


@slrt_cli.command("create-user")
@click.argument("username")
@click.option("--full-name", required=True, help="The person's name as shown on screens.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--unit", "unit_name", required=True,
              help="Unit name ('Sekretariat SLRT Kabupaten Blora') or its region code (33.16, a post's village code).")
@click.option("--phone", default=None, help="Mobile number for escalations (08...).")
@click.option("--password", default=None, help="Asked for when omitted (not echoed).")
@click.option("--one-time-password", is_flag=True,
              help="Make up a password, print it once; the person must choose their own at first sign-in.")
def create_user(username, full_name, role, unit_name, phone, password, one_time_password):
    """Create a staff account (the first manager of a new district, or anyone from the server)."""
    found = units.find(unit_name)
    if len(found) != 1:
        names = ", ".join(db.session.scalars(select(Unit.name).order_by(Unit.name)))
        _fail(f"no single unit named or coded {unit_name!r}. Units: {names or '(none: run setup-district first)'}")
    unit = found[0]
    if one_time_password:
        password = setup_import.new_password()
    elif password is None:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            _fail(gettext("The passwords differ."))
    try:
        user = staff_ops.create_staff(username=username, full_name=full_name, role=role, unit=unit,
                                      phone=phone, password=password, actor=SYSTEM_ACTOR,
                                      password_is_temporary=one_time_password)
    except DomainError as exc:
        db.session.rollback()
        _fail(str(exc))
    db.session.commit()
    click.echo(f"created {user.username} ({user.role.value}, {unit.name})")
    if one_time_password:
        click.echo(f"one-time password (shown once; changed at first sign-in): {password}")
    if Role(role) == Role.MANAGER:
        click.echo("at first sign-in a manager also adds SLRT to an authenticator app (the screen shows a QR code)")


@slrt_cli.command("import-setup")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--kind", type=click.Choice(setup_import.KINDS), default=None,
              help="What the file holds; guessed from its headers (or file/sheet name) when omitted.")
@click.option("--dry-run", is_flag=True, help="Check every row and say what would change; write nothing.")
def import_setup(file, kind, dry_run):
    """Import staff, agencies, agency contacts or services from a CSV or XLSX file (the screen's templates)."""
    with open(file, "rb") as handle:
        data = handle.read(setup_import.MAX_BYTES + 1)
    try:
        result = setup_import.import_setup(data, filename=file, actor=SYSTEM_ACTOR, kind=kind, dry_run=dry_run)
    except DomainError as exc:
        _fail(str(exc))
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    for line in setup_import.describe(result):
        click.echo(line)
    for row in result.rows:
        if row.password:  # printed once; the account must change it at first sign-in
            click.echo(f"{row.key}\t{row.password}")
    if result.count(setup_import.REFUSED):
        sys.exit(2)


@slrt_cli.command("import-residents")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check and count every row; write nothing but the run's record.")
@click.option("--map", "maps", multiple=True, metavar="'HEADER=field'",
              help="Read the column HEADER as the field (one of: " + ", ".join(dtsen_import.FIELDS)
                   + "); 'HEADER=' leaves it out. Repeat for more columns.")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The date the export's data stands at (data per), YYYY-MM-DD; default today.")
@click.option("--save-map", is_flag=True, help="Keep the --map choices: later files' columns are then recognized.")
@click.option("--errors", "errors_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the refused rows (every cell, and why) to this .csv or .xlsx file, to fix and import again.")
def import_residents(file, dry_run, maps, as_of, save_map, errors_path):
    """Import residents and households from a DTSEN export (CSV or XLSX), here and now, with a progress bar.

    Exits 2 when rows were refused, 1 when the file was refused as a whole."""
    as_of = as_of.date() if as_of else clock.today()
    try:
        mapping = dtsen_import.parse_mapping(list(maps))
        table = dtsen_import.open_table(file)
        columns = dtsen_import.recognize(table.headers, mapping)
    except DomainError as exc:
        _fail(str(exc))
    if columns.unknown:
        click.echo(gettext("Columns not recognized (left out): %(headers)s",
                           headers=", ".join(repr(h) for h in columns.unknown)), err=True)
    if columns.missing:
        fields = ", ".join(f"{key} ({dtsen_import.FIELDS[key].label})" for key in columns.missing)
        example = columns.unknown[0] if columns.unknown else gettext("Column header")
        _fail(gettext("No column found for: %(fields)s. Map a column of the file to each with --map, e.g. "
                      "--map '%(header)s=%(field)s' (fields: %(all)s).",
                      fields=fields, header=example, field=columns.missing[0], all=", ".join(dtsen_import.FIELDS)))
    if save_map and mapping:
        dtsen_import.save_headers(mapping, SYSTEM_ACTOR)
        db.session.commit()
    try:
        record = dtsen_import.start(file, filename=file, actor=SYSTEM_ACTOR, as_of=as_of, dry_run=dry_run,
                                    mapping=mapping, table=table)
    except DomainError as exc:
        db.session.rollback()
        _fail(str(exc))
    db.session.commit()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[refused]}"), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(gettext("Rows"), total=record.rows_total or None, refused="")

        def progress(done):
            bar.update(task, completed=done.rows_done, total=max(done.rows_total, done.rows_done) or None,
                       refused=gettext("%(refused)s refused", refused=done.rows_refused))

        record = dtsen_import.run(record.id, file, actor=SYSTEM_ACTOR, progress=progress, table=table)
    for line in dtsen_import.describe(record):
        click.echo(line)
    if errors_path and record.rows_refused:
        header, rows = dtsen_import.refused_rows(record)
        dtsen_uploads.write(errors_path, header, rows)
        click.echo(gettext("Refused rows written to %(path)s: fix them there and import that file again.",
                           path=errors_path))
    if record.state == ImportState.FAILED:
        _fail(record.failure or "")
    if record.rows_refused:
        sys.exit(2)


@slrt_cli.command("set-password")
@click.argument("username")
@click.option("--password", default=None, help="Asked for when omitted (not echoed).")
def set_password(username, password):
    """Set a staff member's password (and reactivate the account)."""
    user = _staff(username)
    if password is None:
        password = getpass.getpass("Password: ")
    try:
        staff_ops.change_password(user, password)
    except DomainError as exc:
        db.session.rollback()
        _fail(str(exc))
    staff_ops.set_active(user, True, actor=SYSTEM_ACTOR)
    db.session.commit()
    click.echo(f"password set for {username}")


@slrt_cli.command("deactivate-user")
@click.argument("username")
def deactivate_user(username):
    """Block a staff account from signing in and acting (its history stays)."""
    user = _staff(username)
    staff_ops.set_active(user, False, actor=SYSTEM_ACTOR)
    db.session.commit()
    click.echo(f"deactivated {username}")


@slrt_cli.command("reset-2fa")
@click.argument("username")
def reset_2fa(username):
    """Forget a staff member's authenticator app (lost phone); they set a new one at next sign-in."""
    user = _staff(username)
    staff_ops.reset_second_factor(user, actor=SYSTEM_ACTOR)
    staff_ops.unlock(user)
    db.session.commit()
    click.echo(f"second factor reset for {username}")


@slrt_cli.command("list-users")
def list_users():
    """List staff accounts with role and unit."""
    for user in db.session.scalars(select(Staff).order_by(Staff.unit_id, Staff.role, Staff.username)):
        state = "" if user.is_active else "  (inactive)"
        click.echo(f"{user.username:<20} {user.role.value:<13} {user.unit.name}{state}")


@slrt_cli.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when staff accounts exist already.")
@click.option("--residents", default=200, show_default=True, help="How many residents to create.")
@click.option("--seed", "random_seed", default=2026, show_default=True, help="Random seed (same seed, same data).")
def seed_demo(if_empty, residents, random_seed):
    """Fill a demo district: units, staff, catalogue, agencies, residents, a year of cases."""
    if if_empty and db.session.scalar(select(func.count()).select_from(Staff)):
        click.echo("demo data: database not empty, left as it is")
        return
    summary = demo.seed(residents=residents, random_seed=random_seed)
    db.session.commit()
    for line in summary:
        click.echo(line)


@slrt_cli.command("setup-district")
@click.argument("code")
@click.option("--secretariat", default=None, help="The secretariat's name (default: 'Sekretariat SLRT <regency>').")
@click.option("--address", default=None, help="The secretariat's address.")
@click.option("--phone", default=None, help="The secretariat's phone, named in SMS as the number to call.")
def setup_district(code, secretariat, address, phone):
    """Set up a regency (33.16): its regions from the official list, its secretariat, the default catalogue.

    Safe to run again after a new region list: it adds, renames and deactivates, and never deletes.
    """
    try:
        done = regions.setup_district(code, secretariat=secretariat, address=address, phone=phone)
    except DomainError as exc:
        db.session.rollback()
        _fail(str(exc))
    db.session.commit()
    loaded, listed = done.regions, done.regions.listed
    click.echo(gettext("%(regency)s (%(code)s): %(districts)s districts, %(villages)s villages in the list",
                       regency=done.regency.name, code=done.regency.code,
                       districts=listed[RegionLevel.DISTRICT], villages=listed[RegionLevel.VILLAGE]))
    _echo_load(loaded)
    click.echo(gettext("secretariat: %(name)s (created)", name=done.secretariat.name) if done.secretariat_created
               else gettext("secretariat: %(name)s (already there)", name=done.secretariat.name))
    click.echo(gettext("catalogue: %(services)s services and %(documents)s documents created",
                       services=done.catalogue.services, documents=done.catalogue.documents)
               if done.catalogue.services else gettext("catalogue: already there, left as it is"))
    click.echo(gettext("done in %(seconds)s s", seconds=f"{done.seconds:.1f}"))


@slrt_cli.command("load-regions")
def load_regions():
    """Load (or bring up to date) every region of Indonesia from the official list shipped in slrt/data."""
    try:
        loaded = regions.load_regions()
    except DomainError as exc:
        db.session.rollback()
        _fail(str(exc))
    db.session.commit()
    listed = loaded.listed
    click.echo(gettext("%(provinces)s provinces, %(regencies)s regencies and cities, %(districts)s districts, "
                       "%(villages)s villages in the list", provinces=listed[RegionLevel.PROVINCE],
                       regencies=listed[RegionLevel.REGENCY], districts=listed[RegionLevel.DISTRICT],
                       villages=listed[RegionLevel.VILLAGE]))
    _echo_load(loaded)
    click.echo(gettext("done in %(seconds)s s", seconds=f"{loaded.seconds:.1f}"))


def _echo_load(loaded: regions.LoadResult) -> None:
    click.echo(gettext("regions: %(added)s added, %(renamed)s renamed, %(deactivated)s deactivated, "
                       "%(reactivated)s active again, %(unchanged)s unchanged",
                       added=loaded.added, renamed=loaded.renamed, deactivated=loaded.deactivated,
                       reactivated=loaded.reactivated, unchanged=loaded.unchanged))


#: How the printed commands run from the repository's root, with or without the virtualenv activated.
FLASK = ".venv/bin/flask --app app"


@slrt_cli.command("demo-logins")
def demo_logins():
    """Print one line per demo login: ``login <role>: <username> / <password> (<unit>)``; the manager's
    line is followed by the authenticator key it signs in with (demo only)."""
    for login in demo.logins():
        click.echo(f"login {login.role}: {login.username} / {login.password} ({login.unit})")
        if login.authenticator_key:
            key = " ".join(login.authenticator_key[i:i + 4] for i in range(0, len(login.authenticator_key), 4))
            click.echo(f"      and a code from an authenticator app: add the key {key} (demo only)")
            click.echo(f"      to Google Authenticator, FreeOTP or similar, or print the code: {FLASK} slrt demo-code")


@slrt_cli.command("demo-code")
def demo_code():
    """Print the demo manager's current authenticator code (the demo's public key; no other account's)."""
    click.echo(demo.authenticator_code())


@slrt_cli.command("check")
@click.option("--ready", "must_be_ready", is_flag=True,
              help="Exit with status 1 unless every part is ready (as /readyz answers 503).")
def check(must_be_ready):
    """Check the settings, then print the readiness report /readyz gives (database, migrations, broker,
    each worker, beat, outbox, sending)."""
    cfg = current_app.config
    click.echo(f"database : {db.engine.url.render_as_string(hide_password=True)}")
    click.echo(f"broker   : {_hide(cfg['CELERY_BROKER_URL'])}")
    click.echo(f"timezone : {cfg['SLRT_TIMEZONE']}    language: {cfg['SLRT_DEFAULT_LOCALE']}")
    click.echo(f"gateway  : {cfg['SLRT_SMS_GATEWAY']}")
    report = health.readiness()
    broken = None
    if report.parts[0].ok:
        staff = db.session.scalar(select(func.count()).select_from(Staff))
        click.echo(f"staff    : {staff} accounts")
        no_household, no_village = residents.missing_references()
        if no_household or no_village:
            broken = gettext("%(households)s residents name a household and %(villages)s a village that is not "
                             "in the database (rows deleted by hand?): restore them from a backup.",
                             households=no_household, villages=no_village)
            click.echo(click.style(f"residents: {broken}", fg="red"))
        if cfg.get("SLRT_REPLY_NUMBER"):
            click.echo(f"help no. : {cfg['SLRT_REPLY_NUMBER']} (SLRT_REPLY_NUMBER)")
        elif problem := outbox.help_number_problem():
            _fail(problem)
        else:
            number = outbox.help_number()
            click.echo(f"help no. : the case unit's phone, else the secretariat's ({number or 'no unit yet'})")
    click.echo("")
    for line in report.lines():
        click.echo(line)
    if broken or must_be_ready and not report.ok:
        sys.exit(1)


@slrt_cli.command("forget-worker")
@click.argument("name")
def forget_worker(name):
    """Stop expecting the worker NAME (its node name, as /readyz lists it): one that died and is not coming back."""
    if name not in {row.name for row in ops.heartbeats(ops.WORKER)}:
        _fail(f"no worker named {name!r}")
    ops.forget(name)
    db.session.commit()
    click.echo(f"worker {name} forgotten")


@slrt_cli.command("backup")
@click.argument("directory", type=click.Path(file_okay=False))
def backup(directory):
    """Back up the database into DIRECTORY: pg_dump -Fc on PostgreSQL, SQLite's online backup on the default.

    The keys (SLRT_PII_KEY, SLRT_SECRET_KEY) are not in it: keep them apart. Restore: README.md.
    """
    try:
        made = backups.backup(directory)
    except DomainError as exc:
        _fail(str(exc))
    except OperationalError as exc:
        _fail(_unreachable(exc))
    for line in backups.describe(made):
        click.echo(line)


@slrt_cli.command("upgrade-check")
def upgrade_check():
    """Say whether the database is at the code's migrations and the keys read its data (exit 1 if not)."""
    try:
        result = upgrades.check()
    except OperationalError as exc:
        _fail(_unreachable(exc))
    db.session.rollback()
    for line in upgrades.describe(result):
        click.echo(line)
    if not result.ready:
        sys.exit(1)


def _unreachable(exc: OperationalError) -> str:
    """The driver's own words on why the database did not answer (no SQL parameters: the engine hides them)."""
    reason = " ".join(str(exc.orig).split())
    return gettext("cannot reach the database %(url)s: %(reason)s",
                   url=db.engine.url.render_as_string(hide_password=True), reason=reason)


def _check_out(path: str) -> None:
    """Exit with a clear error (before anything is logged or made) when ``path`` cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        _fail(gettext("The folder %(folder)s does not exist.", folder=folder))
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        _fail(gettext("%(path)s cannot be written here.", path=path))


@contextmanager
def _private_file(path: str) -> Iterator[None]:
    """Files written in the block are readable by this OS user only (0600): they hold residents' data."""
    mask = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(mask)
    os.chmod(path, 0o600)  # a file that was there before keeps its mode otherwise


#: Where the NIK argument may be left out: asked for without echo (not in the shell's history or ``ps``).
NIK_HELP = "Leave NIK out to type it at a prompt that does not show it (kept out of the shell history)."


def _resident(nik: str | None) -> Resident:
    """The resident with this NIK (asked for without echo when None), or exit with a clear error (the NIK is
    never echoed)."""
    if nik is None:
        nik = click.prompt("NIK", hide_input=True)
    try:
        resident = residents.find_by_nik(nik)
    except DomainError as exc:
        _fail(str(exc))
    if resident is None:
        _fail(gettext("No resident has this NIK (or their data was erased)."))
    return resident


@slrt_cli.command("subject-export", epilog=NIK_HELP)
@click.argument("nik", required=False)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Where to write the ZIP (default: data-warga-<id>-<date>.zip in the current folder).")
def subject_export(nik, out_path):
    """Write everything held about the resident with this NIK to one ZIP (summary in Indonesian + JSON),
    readable by this OS user only."""
    if out_path is not None:
        _check_out(out_path)
    resident = _resident(nik)
    try:
        data = subject_access.subject_export(resident, SYSTEM_ACTOR)
    except DomainError as exc:
        db.session.rollback()
        _fail(str(exc))
    path = out_path or subject_access.filename(resident)
    db.session.commit()  # the export is logged before the file exists: no file without its entry
    with _private_file(path), open(path, "wb") as handle:
        handle.write(data)
    click.echo(gettext("Resident %(id)s (%(nik)s): %(size)s bytes written to %(path)s (readable by you only)",
                       id=resident.id, nik=resident.nik_masked, size=len(data), path=path))


@slrt_cli.command("erase-resident", epilog=NIK_HELP)
@click.argument("nik", required=False)
@click.option("--reason", required=True, help="Why (the resident's written request and its date, ...).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_resident(nik, reason, yes):
    """Erase (anonymize) the personal data of the resident with this NIK; refused while a case is open."""
    resident = _resident(nik)
    label = gettext("resident %(id)s (%(nik)s)", id=resident.id, nik=resident.nik_masked)
    if not yes:
        click.confirm(gettext("Erase the personal data of %(resident)s? This cannot be undone", resident=label),
                      abort=True)
    try:
        erasure.erase_resident(resident, reason=reason, actor=SYSTEM_ACTOR)
    except DomainError as exc:
        db.session.rollback()
        _fail(str(exc))
    db.session.commit()
    click.echo(gettext("%(resident)s: personal data erased", resident=label))


@slrt_cli.command("rebuild-summary")
def rebuild_summary():
    """Recount the dashboard's case and referral tallies from the rows (the triggers keep them after)."""
    reports.rebuild_summary()
    db.session.commit()
    click.echo("dashboard summary rebuilt")


@slrt_cli.command("due-date")
@click.argument("sla_days", type=int)
@click.option("--from", "start", default=None, help="Start date YYYY-MM-DD (default today).")
def due_date(sla_days, start):
    """Show the due date of an SLA in working days, skipping weekends and holidays."""
    day = date.fromisoformat(start) if start else clock.today()
    click.echo(workdays.add_working_days(day, sla_days).isoformat())


def _hide(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}"
    return url


@slrt_cli.command("sms-in")
@click.option("--from", "sender", required=True, help="The sender's mobile number (08... or +62...).")
@click.argument("text")
def sms_in(sender: str, text: str) -> None:
    """Hand in one SMS as if the gateway had received it, and show the reply (console gateway, demos)."""
    try:
        phone = identity.normalize_mobile(sender)
    except DomainError as exc:
        _fail(str(exc))
    message = inbound.receive(phone=phone, body=text, provider_id=f"console:{uuid.uuid4().hex}", gateway="console")
    db.session.commit()
    reply = db.session.scalar(select(SmsMessage).where(SmsMessage.dedupe_key == f"reply:{message.id}"))
    click.echo(f"read as: {message.template_key}")
    if reply is None and message.error_message == outbox.NO_HELP_NUMBER:
        _fail(f"no reply sent: {outbox.help_number_problem() or outbox.NO_HELP_NUMBER}")
    click.echo(f"reply:   {reply.body if reply is not None else '(none: hourly cap reached)'}")


@slrt_cli.command("demo-sms")
def demo_sms() -> None:
    """Print SMS commands to try on the demo data: a resident's CEK and an agency's SELESAI."""
    row = db.session.execute(
        select(Referral, Resident.phone, AgencyContact.phone)
        .join(Referral.case).join(Case.resident)
        .join(AgencyContact, (AgencyContact.agency_id == Referral.agency_id) & AgencyContact.is_active)
        .where(Referral.status == ReferralStatus.SENT, Resident.phone.is_not(None))
        .order_by(Referral.sent_at.desc()).limit(1)
    ).first()
    if row is None:
        click.echo("demo SMS: no pending referral with a resident phone and an agency contact")
        return
    referral, resident_phone, contact_phone = row
    click.echo(f"try SMS (resident): {FLASK} slrt sms-in --from {resident_phone} "
               f"'CEK {format_code(referral.case.ticket)}'")
    click.echo(f"try SMS (agency):   {FLASK} slrt sms-in --from {contact_phone} "
               f"'SELESAI {format_code(referral.code)} sudah dilayani'")


def _anchor(_ctx, _param, values):
    try:
        return [audit.Anchor.parse(value) for value in values]
    except ValueError as exc:
        raise click.BadParameter(gettext("%(value)s is not an anchor: ID:HASH, as audit-anchor prints it",
                                         value=str(exc)[:100])) from None


@slrt_cli.command("audit-verify")
@click.option("--anchor", "anchors", multiple=True, callback=_anchor, metavar="ID:HASH",
              help="An entry's id and hash kept outside the database (audit-anchor, the daily log line): "
                   "the chain must still hold it. Give it as often as you like.")
def audit_verify(anchors):
    """Prove the audit log's hash chain unbroken, or name its first broken entry (exit 1)."""
    verdict = audit.verify(anchors=anchors)
    if verdict.reason == "anchor":
        click.echo(gettext("Audit chain rewritten: entry %(id)s no longer has the hash kept outside the "
                           "database (or is gone).", id=verdict.broken_id), err=True)
        sys.exit(1)
    if verdict.reason == "head":
        click.echo(gettext("Audit chain broken at its end: entry %(id)s, the newest written, is missing "
                           "(the newest entries were removed).", id=verdict.broken_id or "?"), err=True)
        sys.exit(1)
    if not verdict.ok:
        click.echo(gettext("Audit chain broken at entry %(id)s (%(at)s): it was changed or removed.",
                           id=verdict.broken_id, at=clock.format_date(verdict.broken_at, "second")), err=True)
        sys.exit(1)
    click.echo(gettext("Audit chain intact: %(count)s entries, %(first)s .. %(last)s", count=verdict.entries,
                       first=clock.format_date(verdict.first_at, "second"),
                       last=clock.format_date(verdict.last_at, "second")))
    if anchors:
        click.echo(gettext("%(count)s anchors checked.", count=len(anchors)))


@slrt_cli.command("audit-anchor")
def audit_anchor():
    """Print the audit log's newest entry as ID:HASH, to keep outside the database (a printout, a mail):
    audit-verify --anchor then proves the log was not rewritten since. Beat logs one each day."""
    kept = audit.anchor()
    if kept is None:
        _fail(gettext("The audit log is empty."))
    click.echo(str(kept))


@slrt_cli.command("audit-partitions")
@click.option("--months-ahead", default=2, show_default=True, help="Months after this one to prepare.")
def audit_partitions(months_ahead):
    """Create the audit log's missing monthly partitions (PostgreSQL; beat does it daily)."""
    created = audit.ensure_partitions(months_ahead=months_ahead)
    db.session.commit()
    click.echo(gettext("Audit partitions created: %(names)s", names=", ".join(created) or "-"))


@slrt_cli.command("breach-report")
@click.option("--staff", "username", default=None, help="The account whose reads to list (its username).")
@click.option("--address", default=None, help="Or the IP address whose reads to list.")
@click.option("--from", "since", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day, YYYY-MM-DD.")
@click.option("--to", "until", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Last day (included), YYYY-MM-DD.")
@click.option("--out", "path", default=None, type=click.Path(dir_okay=False),
              help="Write each resident, what was seen and their SMS notice to FILE.csv or FILE.xlsx.")
def breach_report(username, address, since, until, path):
    """List every resident whose data an account or an address read or exported in a window (UU PDP breach
    notice). The terminal gets the counts; names, phones and SMS notices go only to --out."""
    if (username is None) == (address is None):
        _fail(gettext("give --staff USERNAME or --address IP (one of them)"))
    if path is not None and not path.lower().endswith((".csv", ".xlsx")):
        _fail(gettext("--out must name a .csv or .xlsx file"))
    if path is not None:
        _check_out(path)
    staff = _staff(username) if username is not None else None
    try:
        made = breach.report(staff=staff, address=address, since=since.date(), until=until.date())
    except DomainError as exc:
        _fail(str(exc))
    who = (gettext("account %(username)s", username=staff.username) if staff is not None
           else gettext("address %(address)s", address=made.address))
    click.echo(gettext("Breach report: %(who)s, %(since)s to %(until)s", who=who,
                       since=clock.format_date(made.since), until=clock.format_date(made.until)))
    # The days are the office's, whatever the server's clock says (a UTC server is a day behind after 17:00).
    click.echo(gettext("Days in %(zone)s time; it is now %(now)s there.", zone=clock.local_zone().key,
                       now=clock.format_date(clock.now(), "minute")))
    click.echo(gettext("%(entries)s audit entries of reads; %(residents)s residents whose data was read or exported",
                       entries=made.entries, residents=made.residents))
    by_residents = made.residents_by_action()
    for action in breach.READS:
        if made.by_action[action]:
            click.echo(gettext("  %(action)s: %(entries)s entries, %(residents)s residents", action=action.label,
                               entries=made.by_action[action], residents=by_residents[action]))
    reachable = sum(1 for exposure in made.exposures if exposure.reachable)
    click.echo(gettext("SMS notice: %(reachable)s residents can be sent it; %(others)s have no phone or refused SMS "
                       "(tell them another way)", reachable=reachable, others=made.residents - reachable))
    click.echo(gettext("For the authority: %(residents)s residents affected; notify them and the authority by "
                       "%(deadline)s (3x24 hours from now)", residents=made.residents,
                       deadline=clock.format_date(made.notify_by, "minute")))
    if path is None:
        if made.residents:
            click.echo(gettext("Names, phones and SMS notices: add --out FILE.csv or FILE.xlsx"))
        return
    # The file holds residents' names and phones: its making is a read of their data, by the operator,
    # logged before the file exists (no file without its entry); readable by this OS user only.
    audit.record_list(AuditAction.EXPORT, record_type="resident", resident_ids=breach.resident_ids(made),
                      rows=made.residents, detail={"report": "breach"})
    db.session.commit()
    with _private_file(path):
        breach.write(made, path)
    click.echo(gettext("Written to %(path)s: %(residents)s residents (personal data: keep the file safe, "
                       "delete it when done)", path=path, residents=made.residents))
