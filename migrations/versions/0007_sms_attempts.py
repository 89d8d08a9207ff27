"""SMS attempts: the failed attempts behind a message's current status.

Revision ID: 0007_sms_attempts
Revises: 0006_resident_verification
Create Date: 2026-12-05

A message that fails and then goes out on a later attempt no longer keeps the earlier
error on its row (the outbox showed a delivered message with an error code); each failed
attempt is kept in ``sms_attempt`` instead: attempt number, gateway, provider id, code.
"""
import sqlalchemy as sa
from alembic import op

revision = '0007_sms_attempts'
down_revision = '0006_resident_verification'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sms_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('gateway', sa.String(length=16), nullable=True),
        sa.Column('provider_id', sa.String(length=64), nullable=True),
        sa.Column('error_code', sa.String(length=16), nullable=True),
        sa.Column('error_message', sa.String(length=255), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['sms_message.id'], name=op.f('fk_sms_attempt_message_id_sms_message'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_attempt')),
    )
    with op.batch_alter_table('sms_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_attempt_message_id'), ['message_id'], unique=False)


def downgrade():
    with op.batch_alter_table('sms_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_attempt_message_id'))
    op.drop_table('sms_attempt')
