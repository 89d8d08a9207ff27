"""Audit chain head: the newest link in one row, whose lock is the chain's lock.

Revision ID: 0021_audit_head
Revises: 0020_audit
Create Date: 2026-12-06

Appending an entry read the newest one from ``audit_entry``; on PostgreSQL's partitioned table
that query is planned over every month's partition (about 1 ms a page). The head row is read
with one index probe, FOR UPDATE in place of the advisory lock.
"""
import sqlalchemy as sa
from alembic import op

import slrt.models.base

# revision identifiers, used by Alembic.
revision = '0021_audit_head'
down_revision = '0020_audit'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'audit_head',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('last_id', sa.BigInteger(), nullable=True),
        sa.Column('last_at', slrt.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head')),
    )
    op.execute("INSERT INTO audit_head (id, last_id, last_at, last_hash) "
               "SELECT 1, id, at, hash FROM audit_entry ORDER BY at DESC, id DESC LIMIT 1")
    op.execute("INSERT INTO audit_head (id, last_id, last_at, last_hash) "
               f"SELECT 1, NULL, NULL, '{'0' * 64}' WHERE NOT EXISTS (SELECT 1 FROM audit_head)")


def downgrade():
    op.drop_table('audit_head')
