"""Each worker writes its own heartbeat, keyed by its node name; beat writes its tick.

Revision ID: 0016_worker_heartbeats
Revises: 0015_region_setup
Create Date: 2026-12-06

The one shared ``worker`` row said "alive" while any worker was; ``/readyz`` and
``flask slrt check`` now list every worker by name (``heartbeat.kind`` = ``worker``) and
beat's last tick (``kind`` = ``beat``). Node names (``worker1@host.example.go.id``) are
longer than the old 32 characters. The old shared row is dropped: the next beats refill
the table.
"""
import sqlalchemy as sa
from alembic import op

revision = '0016_worker_heartbeats'
down_revision = '0015_region_setup'
branch_labels = None
depends_on = None


def upgrade():
    op.execute('DELETE FROM heartbeat')
    with op.batch_alter_table('heartbeat', schema=None) as batch_op:
        batch_op.alter_column('name', existing_type=sa.String(length=32), type_=sa.String(length=200),
                              existing_nullable=False)
        batch_op.add_column(sa.Column('kind', sa.String(length=8), nullable=False))


def downgrade():
    op.execute('DELETE FROM heartbeat')
    with op.batch_alter_table('heartbeat', schema=None) as batch_op:
        batch_op.drop_column('kind')
        batch_op.alter_column('name', existing_type=sa.String(length=200), type_=sa.String(length=32),
                              existing_nullable=False)
