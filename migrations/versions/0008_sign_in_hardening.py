"""Sign-in hardening: one use per authenticator code, locked client addresses, ended sessions.

Revision ID: 0008_sign_in_hardening
Revises: 0007_sms_attempts
Create Date: 2026-12-07

``staff.tf_totp_last_step`` keeps the time step of the last authenticator code accepted, so
the same code cannot sign in twice. ``sign_in_address`` counts failed sign-ins per client
address and locks an address that fails too often. ``ended_session`` keeps the token of each
signed-out session until its cookie has expired, so a copy of the cookie signs no one in.
Sessions signed in before this migration carry no token: their users sign in again.
"""
import sqlalchemy as sa
from alembic import op

revision = '0008_sign_in_hardening'
down_revision = '0007_sms_attempts'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tf_totp_last_step', sa.Integer(), nullable=True))

    op.create_table(
        'sign_in_address',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('failed_count', sa.Integer(), nullable=False),
        sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_address')),
        sa.UniqueConstraint('address', name=op.f('uq_sign_in_address_address')),
    )
    with op.batch_alter_table('sign_in_address', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_address_last_failed_at'), ['last_failed_at'], unique=False)

    op.create_table(
        'ended_session',
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('forget_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('token', name=op.f('pk_ended_session')),
    )
    with op.batch_alter_table('ended_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ended_session_forget_at'), ['forget_at'], unique=False)


def downgrade():
    with op.batch_alter_table('ended_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ended_session_forget_at'))
    op.drop_table('ended_session')

    with op.batch_alter_table('sign_in_address', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_address_last_failed_at'))
    op.drop_table('sign_in_address')

    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('tf_totp_last_step')
