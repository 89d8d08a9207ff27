"""Is this database ready for this code? The migrations and the keys, checked before and after an upgrade.

``flask slrt upgrade-check`` prints :func:`describe` of :func:`check`: whether the database is at
the code's migration head (and which migrations are pending, or whether the database was
migrated by newer code), and whether the configured SLRT_PII_KEY reads the stored data: the
oldest and newest resident's NIK and household's KK number are decrypted and found again by
their lookup hash. A wrong key is caught here, not by a clerk's search that silently finds no
one. SLRT_SECRET_KEY cannot be checked so: nothing stored tells a wrong one (passlib encrypts
the authenticator keys without a MAC, passwords are one-way). The upgrade order is in
README.md, "Upgrades".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from slrt.extensions import db, migrate
from slrt.models import Household, Resident
from slrt.pii import vault


@dataclass(frozen=True)
class Migrations:
    """Where the database's schema is, against the code's migrations."""

    #: Revisions stamped in the database (none: an empty database).
    current: tuple[str, ...]
    #: The code's head revisions.
    heads: tuple[str, ...]
    #: (revision, title) of each migration still to apply, in the order ``db upgrade`` applies them.
    pending: tuple[tuple[str, str], ...]
    #: Revisions in the database that this code does not know (newer code migrated it).
    unknown: tuple[str, ...]

    @property
    def at_head(self) -> bool:
        return not self.pending and not self.unknown and set(self.current) == set(self.heads)


@dataclass
class KeyCheck:
    """Whether one key reads the stored rows it was used for."""

    #: The setting, e.g. SLRT_PII_KEY.
    setting: str
    checked: int = 0
    #: One line per row the key does not read ("resident 12: ...").
    failures: list[str] = field(default_factory=list)
    #: Why nothing could be checked, if so.
    skipped: str = ""

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class UpgradeCheck:
    migrations: Migrations
    keys: tuple[KeyCheck, ...]

    @property
    def ready(self) -> bool:
        return self.migrations.at_head and all(key.ok for key in self.keys)


def check() -> UpgradeCheck:
    """Check the migrations and the keys against the app's database."""
    migrations = migration_state()
    if not migrations.current:
        skipped = gettext("the database is empty: nothing to check it against")
        keys = (KeyCheck("SLRT_PII_KEY", skipped=skipped),)
    else:
        keys = (pii_key_check(),)
    return UpgradeCheck(migrations, keys)


def migration_state() -> Migrations:
    """The database's Alembic revisions against the code's, and the migrations between them."""
    script = ScriptDirectory.from_config(migrate.get_config())
    with db.engine.connect() as conn:
        current = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    heads = tuple(sorted(script.get_heads()))
    unknown = []
    for revision in current:
        try:
            script.get_revision(revision)
        except CommandError:
            unknown.append(revision)
    if unknown:
        return Migrations(current, heads, (), tuple(unknown))
    newest_first = list(script.iterate_revisions(heads, current or "base"))
    pending = tuple((s.revision, s.doc.strip().splitlines()[0] if s.doc else "") for s in reversed(newest_first))
    return Migrations(current, heads, pending, ())


#: What a row whose identifier the key does not read says, by kind.
_UNREADABLE = {"nik": _l("resident %(id)s: its NIK does not decrypt with this key"),
               "kk": _l("household %(id)s: its KK number does not decrypt with this key")}
_UNFOUND = {"nik": _l("resident %(id)s: its NIK decrypts, but its lookup hash differs (searches would not find it)"),
            "kk": _l("household %(id)s: its KK number decrypts, but its lookup hash differs "
                     "(searches would not find it)")}


def pii_key_check() -> KeyCheck:
    """Decrypt a few stored NIK and KK numbers with SLRT_PII_KEY and find each again by its lookup hash."""
    result = KeyCheck("SLRT_PII_KEY")
    samples = [("nik", row) for row in _ends(Resident.id, Resident.nik_encrypted, Resident.nik_hash)]
    samples += [("kk", row) for row in _ends(Household.id, Household.kk_encrypted, Household.kk_hash)]
    for kind, (row_id, encrypted, lookup) in samples:
        result.checked += 1
        try:
            number = vault.decrypt(encrypted)
        except RuntimeError:
            result.failures.append(str(_UNREADABLE[kind]) % {"id": row_id})
            continue
        if vault.lookup_hash(kind, number) != lookup:
            result.failures.append(str(_UNFOUND[kind]) % {"id": row_id})
    if not result.checked:
        result.skipped = gettext("no residents yet: nothing to check the key against")
    return result


def _ends(id_column, *columns) -> list[tuple]:
    """The oldest and the newest rows' ``id_column, *columns`` (one if there is one): a key changed at some
    point shows at one end. The columns read are there since the first migration."""
    rows = []
    for order in (id_column.asc(), id_column.desc()):
        rows += [tuple(row) for row in db.session.execute(select(id_column, *columns).order_by(order).limit(1))]
    return list(dict.fromkeys(rows))


def describe(result: UpgradeCheck) -> list[str]:
    """The lines ``upgrade-check`` prints, the verdict last."""
    m = result.migrations
    lines = [("database", db.engine.url.render_as_string(hide_password=True))]
    if m.unknown:
        lines.append(("schema", gettext("NOT READY: the database is at %(current)s, which this code does not know "
                                        "(newer code migrated it); deploy that code, or restore the backup made "
                                        "before the upgrade", current=", ".join(m.unknown))))
    elif m.at_head:
        lines.append(("schema", gettext("at the code's head (%(head)s)", head=", ".join(m.heads))))
    else:
        lines.append(("schema", ngettext(
            "NOT READY: %(num)s migration pending (database at %(current)s, code at %(head)s); "
            "apply it with: flask --app app db upgrade",
            "NOT READY: %(num)s migrations pending (database at %(current)s, code at %(head)s); "
            "apply them with: flask --app app db upgrade",
            len(m.pending), current=", ".join(m.current) or gettext("empty"), head=", ".join(m.heads))))
        lines += [("", f"{revision}  {title}") for revision, title in m.pending]
    for key in result.keys:
        if key.failures:
            lines.append((key.setting, gettext(
                "NOT READY: it does not match the stored data (%(failed)s of %(checked)s checked); "
                "set the key this data was written with",
                failed=len(key.failures), checked=key.checked)))
            lines += [("", failure) for failure in key.failures]
        elif key.skipped:
            lines.append((key.setting, key.skipped))
        else:
            lines.append((key.setting, ngettext("matches the stored data (%(num)s row checked)",
                                                "matches the stored data (%(num)s rows checked)", key.checked)))
    lines.append(("ready", gettext("yes") if result.ready else gettext("NO")))
    width = max(len(label) for label, _ in lines)
    return [f"{label:<{width}} : {text}" if label else f"{'':<{width}}   {text}" for label, text in lines]
