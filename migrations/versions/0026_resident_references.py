"""A resident's household and village without foreign keys in the database.

Revision ID: 0026_resident_references
Revises: 0025_lookup_columns
Create Date: 2026-12-07

Each key cost every inserted resident a lookup and a row lock in the referenced table (on
PostgreSQL 7-8 µs each: with the two, a sixth of the database's work in a DTSEN import), and
guarded against nothing the application does: households and regions are never deleted (no
screen, task or command deletes one; a region gone from the official list is only marked), and
every write takes these ids from rows it has read or created in its own transaction. ``flask
slrt check`` counts residents whose household or village is missing, should rows ever be
deleted by hand.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0026_resident_references'
down_revision = '0025_lookup_columns'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_resident_household_id_household'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_resident_village_id_region'), type_='foreignkey')


def downgrade():
    # A household id that is gone (none, unless rows were deleted by hand) is cleared; a missing village
    # cannot be guessed, and fails the constraint as it should.
    resident = sa.table('resident', sa.column('household_id', sa.Integer))
    household = sa.table('household', sa.column('id', sa.Integer))
    op.execute(resident.update().where(resident.c.household_id.is_not(None),
                                       ~resident.c.household_id.in_(sa.select(household.c.id)))
               .values(household_id=None))
    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_resident_household_id_household'), 'household',
                                    ['household_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_resident_village_id_region'), 'region', ['village_id'], ['id'])
