"""Resident name search key: lowercase name with an index, for prefix search on any database.

Revision ID: 0003_resident_name_key
Revises: 0002_staff_sign_in
Create Date: 2026-11-24

Replaces the index on ``resident.name`` (which a case-insensitive prefix search cannot
use) with one on ``resident.name_key``; existing rows are filled from their names.
"""
import sqlalchemy as sa
from alembic import op

revision = '0003_resident_name_key'
down_revision = '0002_staff_sign_in'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sa.String(length=120), nullable=True))
    # One statement for any number of rows; names are stored tidied (single spaces) already.
    resident = sa.table('resident', sa.column('name', sa.String), sa.column('name_key', sa.String))
    op.execute(resident.update().values(name_key=sa.func.lower(resident.c.name)))
    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.alter_column('name_key', existing_type=sa.String(length=120), nullable=False)
        batch_op.drop_index(batch_op.f('ix_resident_name'))
        batch_op.create_index(batch_op.f('ix_resident_name_key'), ['name_key'], unique=False)


def downgrade():
    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resident_name_key'))
        batch_op.create_index(batch_op.f('ix_resident_name'), ['name'], unique=False)
        batch_op.drop_column('name_key')
