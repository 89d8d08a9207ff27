"""SMS delivery: receipt deadlines, sending pauses, follow-ups for unreachable residents.

Revision ID: 0004_sms_delivery
Revises: 0003_resident_name_key
Create Date: 2026-11-24

``sms_message.receipt_due_at`` is when a delivery receipt should have come; ``sms_pause``
records the provider suspending the account (all sending stops until a manager resumes);
``follow_up`` asks a village facilitator to call or visit a resident the SMS did not reach.
"""
import sqlalchemy as sa
from alembic import op

revision = '0004_sms_delivery'
down_revision = '0003_resident_name_key'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sms_pause',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gateway', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resumed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['resumed_by_id'], ['staff.id'], name=op.f('fk_sms_pause_resumed_by_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_pause'))
    )
    with op.batch_alter_table('sms_pause', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_pause_resumed_at'), ['resumed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_pause_resumed_by_id'), ['resumed_by_id'], unique=False)

    op.create_table('follow_up',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Enum('sms_failed', 'no_receipt', name='follow_up_reason', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('detail', sa.String(length=255), nullable=True),
    sa.Column('status', sa.Enum('open', 'done', name='follow_up_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_follow_up_case_id_case')),
    sa.ForeignKeyConstraint(['done_by_id'], ['staff.id'], name=op.f('fk_follow_up_done_by_id_staff')),
    sa.ForeignKeyConstraint(['message_id'], ['sms_message.id'], name=op.f('fk_follow_up_message_id_sms_message')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_follow_up_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up')),
    sa.UniqueConstraint('message_id', name=op.f('uq_follow_up_message_id'))
    )
    with op.batch_alter_table('follow_up', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_up_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_up_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_up_done_by_id'), ['done_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_up_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_up_unit_id'), ['unit_id'], unique=False)

    with op.batch_alter_table('sms_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_sms_message_receipt_due_at'), ['receipt_due_at'], unique=False)



def downgrade():
    with op.batch_alter_table('sms_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_message_receipt_due_at'))
        batch_op.drop_column('receipt_due_at')

    with op.batch_alter_table('follow_up', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_up_unit_id'))
        batch_op.drop_index(batch_op.f('ix_follow_up_status'))
        batch_op.drop_index(batch_op.f('ix_follow_up_done_by_id'))
        batch_op.drop_index(batch_op.f('ix_follow_up_created_at'))
        batch_op.drop_index(batch_op.f('ix_follow_up_case_id'))

    op.drop_table('follow_up')
    with op.batch_alter_table('sms_pause', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_pause_resumed_by_id'))
        batch_op.drop_index(batch_op.f('ix_sms_pause_resumed_at'))

    op.drop_table('sms_pause')
