"""Audit log: who read or changed whose personal data, append-only and hash-chained.

Revision ID: 0020_audit
Revises: 0019_dtsen
Create Date: 2026-12-06

One table, ``audit_entry``. On PostgreSQL it is partitioned by month on ``at`` (a partition per
month, audit_entry_YYYY_MM, from this month to two months ahead, and a DEFAULT partition for
anything else), so that retention drops a whole month at once; its ids come from a sequence drawn
under the chain's lock. On SQLite it is a plain table.
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import slrt.models.base

# revision identifiers, used by Alembic.
revision = '0020_audit'
down_revision = '0019_dtsen'
branch_labels = None
depends_on = None

ACTORS = ('staff', 'contact', 'resident', 'system', 'cli')
ACTIONS = ('view', 'reveal_nik', 'reveal_kk', 'list', 'search', 'export', 'import', 'create', 'update',
           'delete', 'transition', 'sign_in', 'sign_in_failed', 'sign_out', 'authenticator_reset', 'settings',
           'template', 'subject_export', 'erase', 'retention', 'audit_purge', 'sms_command')


def _in(values):
    return ', '.join(f"'{value}'" for value in values)


def _months(first, count):
    year, month = first.year, first.month
    for _ in range(count):
        nxt = (year + month // 12, month % 12 + 1)
        yield (year, month), nxt
        year, month = nxt


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("CREATE SEQUENCE audit_entry_id_seq AS bigint")
        op.execute(f"""
            CREATE TABLE audit_entry (
                id bigint NOT NULL DEFAULT nextval('audit_entry_id_seq'),
                at timestamp with time zone NOT NULL,
                actor_kind varchar(8) NOT NULL
                    CONSTRAINT ck_audit_entry_audit_actor CHECK (actor_kind IN ({_in(ACTORS)})),
                staff_id integer,
                actor_label varchar(120) NOT NULL,
                action varchar(19) NOT NULL
                    CONSTRAINT ck_audit_entry_audit_action CHECK (action IN ({_in(ACTIONS)})),
                record_type varchar(20),
                record_id bigint,
                resident_ids bigint[] NOT NULL,
                rows integer,
                detail json,
                ip varchar(45),
                user_agent varchar(255),
                request_id varchar(64),
                prev_hash varchar(64) NOT NULL,
                hash varchar(64) NOT NULL,
                CONSTRAINT pk_audit_entry PRIMARY KEY (id, at)
            ) PARTITION BY RANGE (at)""")
        op.execute("ALTER SEQUENCE audit_entry_id_seq OWNED BY audit_entry.id")
        op.execute("CREATE TABLE audit_entry_default PARTITION OF audit_entry DEFAULT")
        now = datetime.now(UTC)
        for (year, month), (next_year, next_month) in _months(now, 3):
            op.execute(f"CREATE TABLE audit_entry_{year:04d}_{month:02d} PARTITION OF audit_entry "
                       f"FOR VALUES FROM ('{year:04d}-{month:02d}-01 00:00+00') "
                       f"TO ('{next_year:04d}-{next_month:02d}-01 00:00+00')")
        op.execute("CREATE INDEX ix_audit_entry_resident_ids ON audit_entry USING gin (resident_ids)")
    else:
        op.create_table('audit_entry',
        sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('at', slrt.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('actor_kind', sa.Enum(*ACTORS, name='audit_actor', native_enum=False, create_constraint=True),
                  nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=True),
        sa.Column('actor_label', sa.String(length=120), nullable=False),
        sa.Column('action', sa.Enum(*ACTIONS, name='audit_action', native_enum=False, create_constraint=True),
                  nullable=False),
        sa.Column('record_type', sa.String(length=20), nullable=True),
        sa.Column('record_id', sa.BigInteger(), nullable=True),
        sa.Column('resident_ids', sa.JSON(), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=True),
        sa.Column('ip', sa.String(length=45), nullable=True),
        sa.Column('user_agent', sa.String(length=255), nullable=True),
        sa.Column('request_id', sa.String(length=64), nullable=True),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', 'at', name=op.f('pk_audit_entry'))
        )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entry_at_id', ['at', 'id'], unique=False)
        batch_op.create_index('ix_audit_entry_staff_id_at', ['staff_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_entry_action_at', ['action', 'at'], unique=False)
        batch_op.create_index('ix_audit_entry_record', ['record_type', 'record_id'], unique=False)
        batch_op.create_index('ix_audit_entry_ip_at', ['ip', 'at'], unique=False)


def downgrade():
    # The partitions and the sequence go with the table.
    op.drop_table('audit_entry')
