"""Unit heads: who signs a unit's referral letters (name and NIP).

Revision ID: 0018_unit_heads
Revises: 0017_job_runs
Create Date: 2026-12-06

The A4 referral letter ends with the head of office's signature, name and NIP; until now it
printed an empty bracket for a pen. Both are optional: an empty one still prints the blank.
"""
import sqlalchemy as sa
from alembic import op

revision = '0018_unit_heads'
down_revision = '0017_job_runs'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('head_name', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('head_nip', sa.String(length=18), nullable=True))


def downgrade():
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.drop_column('head_nip')
        batch_op.drop_column('head_name')
