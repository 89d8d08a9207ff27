"""Residents found by any word of their name: an index of name words.

Revision ID: 0013_name_words
Revises: 0012_referral_letters
Create Date: 2026-12-05

The name search was a prefix of the whole name (``resident.name_key``): "Riyanto" did not
find "Slamet Riyanto". ``resident_name_word`` holds each word of each name (lowercase, no
accents or punctuation), keyed (word, resident): a word, or the start of one, is a range of
that key on SQLite and PostgreSQL alike (bytewise: collation "C" on PostgreSQL), so a search
stays an index lookup at a million residents. Existing residents are filled in batches.
"""
import unicodedata

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0013_name_words'
down_revision = '0012_referral_letters'
branch_labels = None
depends_on = None

#: Residents read and their words written per round trip while filling.
BATCH = 5000
WORD_LENGTH = 40
_APOSTROPHES = dict.fromkeys(map(ord, "'\u2019\u2018`\u00b4"), None)


def _words(name):
    """slrt.models.people.name_words as of this revision (a migration does not follow later code)."""
    decomposed = unicodedata.normalize("NFKD", (name or "").translate(_APOSTROPHES))
    plain = "".join(ch if ch.isalnum() else " " for ch in decomposed if not unicodedata.combining(ch))
    return list(dict.fromkeys(word[:WORD_LENGTH] for word in plain.lower().split()))


def upgrade():
    word_type = sa.String(length=WORD_LENGTH).with_variant(
        postgresql.VARCHAR(WORD_LENGTH, collation="C"), "postgresql")
    op.create_table(
        'resident_name_word',
        sa.Column('word', word_type, nullable=False),
        sa.Column('resident_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['resident_id'], ['resident.id'],
                                name=op.f('fk_resident_name_word_resident_id_resident')),
        sa.PrimaryKeyConstraint('word', 'resident_id', name=op.f('pk_resident_name_word')),
    )
    with op.batch_alter_table('resident_name_word', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resident_name_word_resident_id'), ['resident_id'], unique=False)

    resident = sa.table('resident', sa.column('id', sa.Integer), sa.column('name', sa.String))
    words = sa.table('resident_name_word', sa.column('word', sa.String), sa.column('resident_id', sa.Integer))
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(sa.select(resident.c.id, resident.c.name).where(resident.c.id > last)
                            .order_by(resident.c.id).limit(BATCH)).all()
        if not rows:
            break
        found = [{"word": word, "resident_id": rid} for rid, name in rows for word in _words(name)]
        if found:
            conn.execute(words.insert(), found)
        last = rows[-1][0]


def downgrade():
    with op.batch_alter_table('resident_name_word', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resident_name_word_resident_id'))
    op.drop_table('resident_name_word')
