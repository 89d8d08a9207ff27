"""Name words without a foreign key to the resident.

Revision ID: 0024_name_word_no_fk
Revises: 0023_audit_append_function
Create Date: 2026-12-07

``resident_name_word`` is a search index kept by the application: a resident's words are written
with the resident, in the same transaction, rewritten when the name changes and emptied by an
erasure; residents are never deleted. Its foreign key checked nothing those paths do not, and on
PostgreSQL it cost a lookup and a row lock on the resident per word (about 8 µs each, two words a
resident: the largest single cost of a DTSEN import in the database). The ORM still deletes a
resident's words with it (the relationship's cascade).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0024_name_word_no_fk'
down_revision = '0023_audit_append_function'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('resident_name_word', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_resident_name_word_resident_id_resident'), type_='foreignkey')


def downgrade():
    # Words of residents that are gone (none, unless rows were deleted by hand) would fail the constraint.
    resident = sa.table('resident', sa.column('id', sa.Integer))
    words = sa.table('resident_name_word', sa.column('resident_id', sa.Integer))
    op.execute(words.delete().where(~words.c.resident_id.in_(sa.select(resident.c.id))))
    with op.batch_alter_table('resident_name_word', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_resident_name_word_resident_id_resident'), 'resident',
                                    ['resident_id'], ['id'])
