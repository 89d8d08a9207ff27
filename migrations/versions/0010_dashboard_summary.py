"""Dashboard summary: case and referral counts per unit, kept by triggers.

Revision ID: 0010_dashboard_summary
Revises: 0009_state_stored_once
Create Date: 2026-12-05

The dashboard counted every active case and referral on each load (most of a second at a
million cases). ``case_tally`` holds the cases per (unit, status) and ``referral_tally`` the
referrals per (case's unit, agency, status) with how many are escalated. Triggers on
``case`` and ``referral`` move the counts in the writer's transaction, so bulk SQL (imports,
the bench's fill) keeps them right as well as the domain; an upsert adds the missing row and
``n = n + delta`` makes concurrent writers queue on the row instead of losing a count. A case
moved to another unit carries its referrals' counts along. On PostgreSQL they are statement
triggers over the transition tables (one upsert per key a statement touches), on SQLite row
triggers.

Overdue is "active minus not yet due": the partial index ``ix_referral_due_at_active``
holds only active referrals, read from the due date onwards (few rows); the unverified
count reads ``ix_referral_verification_asked_at_asked`` (referrals awaiting the resident's
answer) instead of every completed referral.

The upgrade fills both tables from the rows (the same statements as
``slrt.reports.rebuild_summary``, frozen here as of this revision).
"""
import sqlalchemy as sa
from alembic import op

revision = '0010_dashboard_summary'
down_revision = '0009_state_stored_once'
branch_labels = None
depends_on = None

_ACTIVE = "status IN ('sent', 'accepted')"
_ASKED = "status = 'completed' AND resident_verification = 'asked'"
_ESCALATED = "CASE WHEN {row}.escalated_at IS NULL THEN 0 ELSE 1 END"

# SQLite row triggers' statements; OLD/NEW are the trigger's rows.
# A count that reaches zero loses its row, so a unit or agency without cases can still be deleted.
_CASE_REMOVE = ("UPDATE case_tally SET cases = cases - 1 WHERE unit_id = OLD.unit_id AND status = OLD.status; "
                "DELETE FROM case_tally WHERE unit_id = OLD.unit_id AND status = OLD.status AND cases = 0")
_CASE_ADD = ("INSERT INTO case_tally (unit_id, status, cases) VALUES (NEW.unit_id, NEW.status, 1) "
             "ON CONFLICT (unit_id, status) DO UPDATE SET cases = case_tally.cases + 1")
# A case moved to another unit: its referrals' counts leave the old unit and join the new one.
_CASE_MOVE_REFERRALS_OUT = """UPDATE referral_tally SET
        referrals = referrals - (SELECT count(*) FROM referral r WHERE r.case_id = NEW.id
                                 AND r.agency_id = referral_tally.agency_id AND r.status = referral_tally.status),
        escalated = escalated - (SELECT count(r.escalated_at) FROM referral r WHERE r.case_id = NEW.id
                                 AND r.agency_id = referral_tally.agency_id AND r.status = referral_tally.status)
    WHERE unit_id = OLD.unit_id AND NEW.unit_id <> OLD.unit_id;
    DELETE FROM referral_tally WHERE unit_id = OLD.unit_id AND referrals = 0 AND NEW.unit_id <> OLD.unit_id"""
_CASE_MOVE_REFERRALS_IN = """INSERT INTO referral_tally (unit_id, agency_id, status, referrals, escalated)
    SELECT NEW.unit_id, r.agency_id, r.status, count(*), count(r.escalated_at) FROM referral r
    WHERE r.case_id = NEW.id AND NEW.unit_id <> OLD.unit_id GROUP BY r.agency_id, r.status
    ON CONFLICT (unit_id, agency_id, status) DO UPDATE SET
        referrals = referral_tally.referrals + excluded.referrals,
        escalated = referral_tally.escalated + excluded.escalated"""
_REFERRAL_REMOVE = f"""UPDATE referral_tally SET referrals = referrals - 1,
        escalated = escalated - {_ESCALATED.format(row='OLD')}
    WHERE unit_id = (SELECT unit_id FROM "case" WHERE id = OLD.case_id)
      AND agency_id = OLD.agency_id AND status = OLD.status;
    DELETE FROM referral_tally WHERE unit_id = (SELECT unit_id FROM "case" WHERE id = OLD.case_id)
      AND agency_id = OLD.agency_id AND status = OLD.status AND referrals = 0"""
_REFERRAL_ADD = f"""INSERT INTO referral_tally (unit_id, agency_id, status, referrals, escalated)
    SELECT c.unit_id, NEW.agency_id, NEW.status, 1, {_ESCALATED.format(row='NEW')}
    FROM "case" c WHERE c.id = NEW.case_id
    ON CONFLICT (unit_id, agency_id, status) DO UPDATE SET
        referrals = referral_tally.referrals + 1, escalated = referral_tally.escalated + excluded.escalated"""

_CASE_CHANGED = "OLD.unit_id <> NEW.unit_id OR OLD.status <> NEW.status"
_REFERRAL_CHANGED = ("OLD.case_id <> NEW.case_id OR OLD.agency_id <> NEW.agency_id OR OLD.status <> NEW.status "
                     "OR (OLD.escalated_at IS NULL) <> (NEW.escalated_at IS NULL)")

# PostgreSQL: statement triggers over the transition tables, one upsert per (unit, status) a
# statement touches. Row triggers would update one tally row once per row written, and a bulk
# statement (a million-row fill) would walk that row's ever longer version chain: quadratic.
_CASE_ROWS = "SELECT unit_id, status, {sign} AS n FROM {rows}"
_REFERRAL_ROWS = ('SELECT c.unit_id, r.agency_id, r.status, {sign} AS n, '
                  '{sign} * (CASE WHEN r.escalated_at IS NULL THEN 0 ELSE 1 END) AS e '
                  'FROM {rows} r JOIN "case" c ON c.id = r.case_id')
# A case moved to another unit: its referrals' counts leave the old unit and join the new one.
_MOVED_REFERRALS = ('SELECT {side}.unit_id, r.agency_id, r.status, {sign} AS n, '
                    '{sign} * (CASE WHEN r.escalated_at IS NULL THEN 0 ELSE 1 END) AS e '
                    'FROM new_rows n JOIN old_rows o ON o.id = n.id JOIN referral r ON r.case_id = n.id '
                    'WHERE n.unit_id <> o.unit_id')


def _add_cases(*sources: str) -> str:
    """Add the signed rows of ``sources`` to case_tally, keys in order (concurrent writers lock alike)."""
    return (f"INSERT INTO case_tally (unit_id, status, cases) SELECT unit_id, status, sum(n) "
            f"FROM ({' UNION ALL '.join(sources)}) d GROUP BY unit_id, status HAVING sum(n) <> 0 "
            f"ORDER BY unit_id, status "
            f"ON CONFLICT (unit_id, status) DO UPDATE SET cases = case_tally.cases + excluded.cases; "
            f"DELETE FROM case_tally WHERE cases = 0")


def _add_referrals(*sources: str) -> str:
    """Add the signed rows of ``sources`` to referral_tally, keys in order."""
    return (f"INSERT INTO referral_tally (unit_id, agency_id, status, referrals, escalated) "
            f"SELECT unit_id, agency_id, status, sum(n), sum(e) FROM ({' UNION ALL '.join(sources)}) d "
            f"GROUP BY unit_id, agency_id, status HAVING sum(n) <> 0 OR sum(e) <> 0 "
            f"ORDER BY unit_id, agency_id, status "
            f"ON CONFLICT (unit_id, agency_id, status) DO UPDATE SET "
            f"referrals = referral_tally.referrals + excluded.referrals, "
            f"escalated = referral_tally.escalated + excluded.escalated; "
            f"DELETE FROM referral_tally WHERE referrals = 0")


_ADDED, _REMOVED = {"sign": "1", "rows": "new_rows"}, {"sign": "-1", "rows": "old_rows"}
_POSTGRESQL = [
    f"""CREATE FUNCTION case_tally_keep() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN {_add_cases(_CASE_ROWS.format(**_ADDED))};
        ELSIF TG_OP = 'DELETE' THEN {_add_cases(_CASE_ROWS.format(**_REMOVED))};
        ELSE
            {_add_cases(_CASE_ROWS.format(**_ADDED), _CASE_ROWS.format(**_REMOVED))};
            -- Moves between units are rare: look at the referrals only when one happened.
            IF EXISTS (SELECT FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE n.unit_id <> o.unit_id) THEN
                {_add_referrals(_MOVED_REFERRALS.format(side="n", sign="1"),
                                _MOVED_REFERRALS.format(side="o", sign="-1"))};
            END IF;
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION referral_tally_keep() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN {_add_referrals(_REFERRAL_ROWS.format(**_ADDED))};
        ELSIF TG_OP = 'DELETE' THEN {_add_referrals(_REFERRAL_ROWS.format(**_REMOVED))};
        ELSE {_add_referrals(_REFERRAL_ROWS.format(**_ADDED), _REFERRAL_ROWS.format(**_REMOVED))};
        END IF;
        RETURN NULL;
    END $$""",
    # Transition tables allow one event per trigger and no column list.
    'CREATE TRIGGER case_tally_insert AFTER INSERT ON "case" REFERENCING NEW TABLE AS new_rows '
    'FOR EACH STATEMENT EXECUTE FUNCTION case_tally_keep()',
    'CREATE TRIGGER case_tally_update AFTER UPDATE ON "case" REFERENCING OLD TABLE AS old_rows '
    'NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_tally_keep()',
    'CREATE TRIGGER case_tally_delete AFTER DELETE ON "case" REFERENCING OLD TABLE AS old_rows '
    'FOR EACH STATEMENT EXECUTE FUNCTION case_tally_keep()',
    'CREATE TRIGGER referral_tally_insert AFTER INSERT ON referral REFERENCING NEW TABLE AS new_rows '
    'FOR EACH STATEMENT EXECUTE FUNCTION referral_tally_keep()',
    'CREATE TRIGGER referral_tally_update AFTER UPDATE ON referral REFERENCING OLD TABLE AS old_rows '
    'NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION referral_tally_keep()',
    'CREATE TRIGGER referral_tally_delete AFTER DELETE ON referral REFERENCING OLD TABLE AS old_rows '
    'FOR EACH STATEMENT EXECUTE FUNCTION referral_tally_keep()',
]
# SQLite has row triggers only; it updates a row in place, so many rows in one statement stay linear.
_SQLITE = [
    f'CREATE TRIGGER case_tally_insert AFTER INSERT ON "case" BEGIN {_CASE_ADD}; END',
    f'CREATE TRIGGER case_tally_delete AFTER DELETE ON "case" BEGIN {_CASE_REMOVE}; END',
    f'CREATE TRIGGER case_tally_update AFTER UPDATE OF unit_id, status ON "case" WHEN {_CASE_CHANGED} BEGIN '
    f'{_CASE_REMOVE}; {_CASE_ADD}; {_CASE_MOVE_REFERRALS_OUT}; {_CASE_MOVE_REFERRALS_IN}; END',
    f'CREATE TRIGGER referral_tally_insert AFTER INSERT ON referral BEGIN {_REFERRAL_ADD}; END',
    f'CREATE TRIGGER referral_tally_delete AFTER DELETE ON referral BEGIN {_REFERRAL_REMOVE}; END',
    f'CREATE TRIGGER referral_tally_update AFTER UPDATE OF case_id, agency_id, status, escalated_at ON referral '
    f'WHEN {_REFERRAL_CHANGED} BEGIN {_REFERRAL_REMOVE}; {_REFERRAL_ADD}; END',
]
_TRIGGERS = [f'{table}_tally_{event}' for table in ('referral', 'case') for event in ('update', 'delete', 'insert')]
_DROP_POSTGRESQL = [f'DROP TRIGGER {name} ON "{name.split("_tally")[0]}"' for name in _TRIGGERS] + [
    'DROP FUNCTION referral_tally_keep()', 'DROP FUNCTION case_tally_keep()']
_DROP_SQLITE = [f'DROP TRIGGER {name}' for name in _TRIGGERS]

_FILL = [
    'INSERT INTO case_tally (unit_id, status, cases) SELECT unit_id, status, count(*) FROM "case" '
    'GROUP BY unit_id, status',
    'INSERT INTO referral_tally (unit_id, agency_id, status, referrals, escalated) '
    'SELECT c.unit_id, r.agency_id, r.status, count(*), count(r.escalated_at) '
    'FROM referral r JOIN "case" c ON c.id = r.case_id GROUP BY c.unit_id, r.agency_id, r.status',
]


def upgrade():
    op.create_table(
        'case_tally',
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('cases', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_case_tally_unit_id_unit')),
        sa.PrimaryKeyConstraint('unit_id', 'status', name=op.f('pk_case_tally')),
    )
    op.create_table(
        'referral_tally',
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('referrals', sa.Integer(), nullable=False),
        sa.Column('escalated', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_referral_tally_agency_id_agency')),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_referral_tally_unit_id_unit')),
        sa.PrimaryKeyConstraint('unit_id', 'agency_id', 'status', name=op.f('pk_referral_tally')),
    )
    op.create_index(op.f('ix_referral_tally_agency_id'), 'referral_tally', ['agency_id'])
    op.create_index('ix_referral_due_at_active', 'referral', ['due_at', 'agency_id', 'case_id'],
                    postgresql_where=sa.text(_ACTIVE), sqlite_where=sa.text(_ACTIVE))
    op.create_index('ix_referral_verification_asked_at_asked', 'referral', ['verification_asked_at', 'case_id'],
                    postgresql_where=sa.text(_ASKED), sqlite_where=sa.text(_ASKED))
    postgresql = op.get_bind().dialect.name == 'postgresql'
    # Triggers first: on PostgreSQL they lock both tables against writers until the fill commits.
    for statement in (_POSTGRESQL if postgresql else _SQLITE) + _FILL:
        op.execute(statement)


def downgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    for statement in _DROP_POSTGRESQL if postgresql else _DROP_SQLITE:
        op.execute(statement)
    op.drop_index('ix_referral_verification_asked_at_asked', table_name='referral')
    op.drop_index('ix_referral_due_at_active', table_name='referral')
    op.drop_index(op.f('ix_referral_tally_agency_id'), table_name='referral_tally')
    op.drop_table('referral_tally')
    op.drop_table('case_tally')
