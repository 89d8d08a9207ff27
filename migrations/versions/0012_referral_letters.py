"""Referral letters: each referral's A4 letter numbered from its unit's yearly sequence.

Revision ID: 0012_referral_letters
Revises: 0011_case_unit_paging
Create Date: 2026-12-05

The A4 referral letter (surat rujukan) carries a number such as ``0042/SLRT/XII/2026``: the
42nd letter of the unit that year. The number is given on the letter's first print and kept
(``referral_letter``, one row per referral), so a reprint shows the same one; the unique
constraint on (unit_id, year, number) keeps two prints at the same moment from sharing one.
"""
import sqlalchemy as sa
from alembic import op

revision = '0012_referral_letters'
down_revision = '0011_case_unit_paging'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'referral_letter',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('referral_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=40), nullable=False),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('issued_by_id', sa.Integer(), nullable=True),
        sa.CheckConstraint('number > 0', name=op.f('ck_referral_letter_number_positive')),
        sa.ForeignKeyConstraint(['issued_by_id'], ['staff.id'], name=op.f('fk_referral_letter_issued_by_id_staff')),
        sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_referral_letter_referral_id_referral')),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_referral_letter_unit_id_unit')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_letter')),
        sa.UniqueConstraint('referral_id', name=op.f('uq_referral_letter_referral_id')),
        sa.UniqueConstraint('unit_id', 'year', 'number', name=op.f('uq_referral_letter_unit_id_year_number')),
    )
    with op.batch_alter_table('referral_letter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_letter_issued_by_id'), ['issued_by_id'], unique=False)


def downgrade():
    with op.batch_alter_table('referral_letter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_letter_issued_by_id'))
    op.drop_table('referral_letter')
