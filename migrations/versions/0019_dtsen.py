"""DTSEN: residents' and households' welfare data from DTSEN exports, the imports that bring it,
and the "usul DTSEN" mark on a case.

Revision ID: 0019_dtsen
Revises: 0018_unit_heads
Create Date: 2026-12-06

A household gets its desil (1-10) and the date its data stands at; a resident their DTSEN status,
programmes, place in the family and birth place. Every import is recorded with its refused rows
(encrypted) and the changes it made; a column name mapped once is kept for the next file.
"""
import sqlalchemy as sa
from alembic import op

import slrt.models.base


# revision identifiers, used by Alembic.
revision = '0019_dtsen'
down_revision = '0018_unit_heads'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('import_header',
    sa.Column('header', sa.String(length=120), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=False),
    sa.Column('saved_by_id', sa.Integer(), nullable=True),
    sa.Column('saved_at', slrt.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['saved_by_id'], ['staff.id'], name=op.f('fk_import_header_saved_by_id_staff')),
    sa.PrimaryKeyConstraint('header', name=op.f('pk_import_header'))
    )
    with op.batch_alter_table('import_header', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_header_saved_by_id'), ['saved_by_id'], unique=False)
    op.create_table('resident_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('operator', sa.String(length=80), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('is_dry_run', sa.Boolean(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('columns', sa.JSON(), nullable=False),
    sa.Column('state', sa.Enum('queued', 'running', 'done', 'failed', name='resident_import_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('created_at', slrt.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', slrt.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', slrt.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('residents_created', sa.Integer(), nullable=False),
    sa.Column('residents_updated', sa.Integer(), nullable=False),
    sa.Column('residents_unchanged', sa.Integer(), nullable=False),
    sa.Column('rows_refused', sa.Integer(), nullable=False),
    sa.Column('households_created', sa.Integer(), nullable=False),
    sa.Column('households_updated', sa.Integer(), nullable=False),
    sa.Column('households_unchanged', sa.Integer(), nullable=False),
    sa.Column('failure', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_resident_import_staff_id_staff')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_resident_import_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resident_import'))
    )
    with op.batch_alter_table('resident_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resident_import_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_resident_import_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resident_import_unit_id'), ['unit_id'], unique=False)

    op.create_table('dtsen_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('at', slrt.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_dtsen_change_household_id_household')),
    sa.ForeignKeyConstraint(['import_id'], ['resident_import.id'], name=op.f('fk_dtsen_change_import_id_resident_import')),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_dtsen_change_resident_id_resident')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dtsen_change'))
    )
    with op.batch_alter_table('dtsen_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dtsen_change_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dtsen_change_import_id'), ['import_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dtsen_change_resident_id'), ['resident_id'], unique=False)

    op.create_table('resident_import_error',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('column', sa.String(length=120), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('cells_encrypted', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['resident_import.id'], name=op.f('fk_resident_import_error_import_id_resident_import'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resident_import_error'))
    )
    with op.batch_alter_table('resident_import_error', schema=None) as batch_op:
        batch_op.create_index('ix_resident_import_error_import_row', ['import_id', 'row_number'], unique=False)

    op.create_table('dtsen_proposal',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('proposed_at', slrt.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('proposed_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_dtsen_proposal_case_id_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['proposed_by_id'], ['staff.id'], name=op.f('fk_dtsen_proposal_proposed_by_id_staff')),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_dtsen_proposal'))
    )
    with op.batch_alter_table('dtsen_proposal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dtsen_proposal_proposed_at'), ['proposed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_dtsen_proposal_proposed_by_id'), ['proposed_by_id'], unique=False)

    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.add_column(sa.Column('desil', sa.SmallInteger(), nullable=True))
        batch_op.create_check_constraint(op.f('ck_household_desil'), 'desil BETWEEN 1 AND 10')
        batch_op.add_column(sa.Column('dtsen_as_of', sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f('ix_household_desil'), ['desil'], unique=False)
        batch_op.create_index(batch_op.f('ix_household_dtsen_as_of'), ['dtsen_as_of'], unique=False)

    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dtsen_status', sa.Enum('confirmed', 'unconfirmed', 'new', 'duplicate', 'moved', 'not_found', 'deceased', name='resident_dtsen_status', native_enum=False, create_constraint=True), nullable=True))
        batch_op.add_column(sa.Column('dtsen_programmes', sa.String(length=60), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('dtsen_as_of', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('family_relation', sa.SmallInteger(), nullable=True))
        batch_op.create_check_constraint(op.f('ck_resident_family_relation'), 'family_relation BETWEEN 1 AND 8')
        batch_op.create_index(batch_op.f('ix_resident_dtsen_as_of'), ['dtsen_as_of'], unique=False)
        batch_op.add_column(sa.Column('birth_place', sa.String(length=80), nullable=True))



def downgrade():
    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.drop_column('birth_place')
        batch_op.drop_index(batch_op.f('ix_resident_dtsen_as_of'))
        batch_op.drop_constraint(op.f('ck_resident_family_relation'), type_='check')
        batch_op.drop_column('family_relation')
        batch_op.drop_column('dtsen_as_of')
        batch_op.drop_column('dtsen_programmes')
        batch_op.drop_constraint(op.f('ck_resident_resident_dtsen_status'), type_='check')
        batch_op.drop_column('dtsen_status')

    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_dtsen_as_of'))
        batch_op.drop_index(batch_op.f('ix_household_desil'))
        batch_op.drop_constraint(op.f('ck_household_desil'), type_='check')
        batch_op.drop_column('dtsen_as_of')
        batch_op.drop_column('desil')

    with op.batch_alter_table('dtsen_proposal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dtsen_proposal_proposed_by_id'))
        batch_op.drop_index(batch_op.f('ix_dtsen_proposal_proposed_at'))

    op.drop_table('dtsen_proposal')
    with op.batch_alter_table('resident_import_error', schema=None) as batch_op:
        batch_op.drop_index('ix_resident_import_error_import_row')

    op.drop_table('resident_import_error')
    with op.batch_alter_table('dtsen_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dtsen_change_resident_id'))
        batch_op.drop_index(batch_op.f('ix_dtsen_change_import_id'))
        batch_op.drop_index(batch_op.f('ix_dtsen_change_household_id'))

    op.drop_table('dtsen_change')
    with op.batch_alter_table('resident_import', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resident_import_unit_id'))
        batch_op.drop_index(batch_op.f('ix_resident_import_staff_id'))
        batch_op.drop_index(batch_op.f('ix_resident_import_created_at'))

    op.drop_table('resident_import')
    with op.batch_alter_table('import_header', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_header_saved_by_id'))

    op.drop_table('import_header')
