"""Audit chain head: the hash the newest entry follows, so that one statement appends an entry.

Revision ID: 0022_audit_head_prev
Revises: 0021_audit_head
Create Date: 2026-12-06

On PostgreSQL a page's read entry is appended by one statement: an UPDATE of the head row (its
row lock is the chain's lock) that moves it to the new entry and keeps the hash it moved from in
``prev_hash``, and the INSERT of the entry from what that UPDATE returns. Before, the head was
locked and read by one statement and the entry inserted by another.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0022_audit_head_prev'
down_revision = '0021_audit_head'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_head') as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('audit_head') as batch_op:
        batch_op.drop_column('prev_hash')
