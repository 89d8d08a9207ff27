"""Job runs: reminder sweeps and set-up imports counted for the operator's metrics.

Revision ID: 0017_job_runs
Revises: 0016_worker_heartbeats
Create Date: 2026-12-06

One row per kind of run (``reminder_sweep``, ``import_staff``, ...): how many ran and failed,
and when the last one ran, how long it took and how much it handled. ``/metrics`` reads it.
"""
import sqlalchemy as sa
from alembic import op

revision = '0017_job_runs'
down_revision = '0016_worker_heartbeats'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'job_run',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('runs', sa.Integer(), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seconds', sa.Float(), nullable=False),
        sa.Column('last_items', sa.Integer(), nullable=False),
        sa.Column('last_ok', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_job_run')),
    )


def downgrade():
    op.drop_table('job_run')
