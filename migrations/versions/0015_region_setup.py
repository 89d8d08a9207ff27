"""Setting up a district from the official region list: desa/kelurahan, regions gone from the list, posts over several villages.

Revision ID: 0015_region_setup
Revises: 0014_setup_import
Create Date: 2026-12-05

``flask slrt setup-district`` loads a regency's districts and villages from the Kemendagri list
shipped in slrt/data. A village now says whether it is a desa or a kelurahan
(``region.village_kind``, read from its code: 1xxx kelurahan, 2xxx desa, 3xxx desa adat; filled here for the
villages already stored); a region the list no longer has is kept, marked inactive
(``region.is_active``), since residents and cases point to it. A Puskesos post may serve a
group of villages: ``unit_village`` lists those besides its own (``unit.region_id``).
"""
import sqlalchemy as sa
from alembic import op

revision = '0015_region_setup'
down_revision = '0014_setup_import'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('region', schema=None) as batch_op:
        batch_op.add_column(sa.Column('village_kind', sa.Enum('urban', 'rural', 'customary', name='village_kind',
                                                              native_enum=False, create_constraint=True,
                                                              length=9), nullable=True))
        batch_op.add_column(sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False))
    region = sa.table('region', sa.column('level', sa.String), sa.column('code', sa.String),
                      sa.column('village_kind', sa.String))
    for digit, kind in (('1', 'urban'), ('2', 'rural'), ('3', 'customary')):
        op.execute(region.update().where(region.c.level == 'village', region.c.code.like(f'__.__.__.{digit}%'))
                   .values(village_kind=kind))
    op.create_table(
        'unit_village',
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('region_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_unit_village_region_id_region')),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_unit_village_unit_id_unit'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('unit_id', 'region_id', name=op.f('pk_unit_village')),
    )
    with op.batch_alter_table('unit_village', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unit_village_region_id'), ['region_id'], unique=False)


def downgrade():
    with op.batch_alter_table('unit_village', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_village_region_id'))
    op.drop_table('unit_village')
    with op.batch_alter_table('region', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_region_village_kind'), type_='check')
        batch_op.drop_column('is_active')
        batch_op.drop_column('village_kind')
