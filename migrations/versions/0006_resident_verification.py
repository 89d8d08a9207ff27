"""Resident-verified closure: whether the resident was asked, and answered, that a service came.

Revision ID: 0006_resident_verification
Revises: 0005_reminder_digests
Create Date: 2026-12-02

``referral.resident_verification`` is empty when nobody asked, ``asked`` once the completion
notice put the question "sudah Anda terima? 1 Ya / 2 Belum", ``confirmed`` after a "1";
``verification_asked_at`` dates the question. A referral asked long ago and never confirmed
is shown as unverified.
"""
import sqlalchemy as sa
from alembic import op

revision = '0006_resident_verification'
down_revision = '0005_reminder_digests'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resident_verification', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('verification_asked_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_column('verification_asked_at')
        batch_op.drop_column('resident_verification')
