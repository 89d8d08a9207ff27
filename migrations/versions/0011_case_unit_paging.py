"""Case lists of one unit page deep without walking the whole district's cases.

Revision ID: 0011_case_unit_paging
Revises: 0010_dashboard_summary
Create Date: 2026-12-05

A Puskesos clerk's case list is the unit's cases, newest first (opened_at, then id). With
only the district-wide index on ``opened_at`` the database walked every case of the
district backward and dropped the other units' rows: page 500 read four times the rows it
kept. This index holds the unit's cases in list order, so a page's ids are read from it alone.
"""
from alembic import op

revision = '0011_case_unit_paging'
down_revision = '0010_dashboard_summary'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.create_index('ix_case_unit_id_opened_at_id', ['unit_id', 'opened_at', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_unit_id_opened_at_id')
