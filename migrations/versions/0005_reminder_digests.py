"""Reminder digests: the numbered list of referrals each reminder SMS carried.

Revision ID: 0005_reminder_digests
Revises: 0004_sms_delivery
Create Date: 2026-12-02

``reminder_digest`` is one reminder SMS to one agency contact; ``reminder_digest_item``
freezes its numbering, so a reply "SELESAI 2" means what that digest listed second.
"""
import sqlalchemy as sa
from alembic import op

revision = '0005_reminder_digests'
down_revision = '0004_sms_delivery'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('reminder_digest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['agency_contact.id'], name=op.f('fk_reminder_digest_contact_id_agency_contact')),
    sa.ForeignKeyConstraint(['message_id'], ['sms_message.id'], name=op.f('fk_reminder_digest_message_id_sms_message')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_digest'))
    )
    with op.batch_alter_table('reminder_digest', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_digest_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reminder_digest_message_id'), ['message_id'], unique=False)

    op.create_table('reminder_digest_item',
    sa.Column('digest_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['digest_id'], ['reminder_digest.id'], name=op.f('fk_reminder_digest_item_digest_id_reminder_digest'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_reminder_digest_item_referral_id_referral')),
    sa.PrimaryKeyConstraint('digest_id', 'position', name=op.f('pk_reminder_digest_item'))
    )
    with op.batch_alter_table('reminder_digest_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_digest_item_referral_id'), ['referral_id'], unique=False)


def downgrade():
    with op.batch_alter_table('reminder_digest_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_digest_item_referral_id'))

    op.drop_table('reminder_digest_item')
    with op.batch_alter_table('reminder_digest', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_digest_message_id'))
        batch_op.drop_index(batch_op.f('ix_reminder_digest_contact_id'))

    op.drop_table('reminder_digest')
