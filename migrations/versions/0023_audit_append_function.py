"""Audit append as a database function (PostgreSQL): a page's read entry costs one short call.

Revision ID: 0023_audit_append_function
Revises: 0022_audit_head_prev
Create Date: 2026-12-06

The one statement that appended a read entry (an UPDATE of the head in a CTE, the INSERT from
what it returned) was parsed and planned again on every page: the driver forgets its prepared
statements at each rollback, and a read-only page ends in one. PL/pgSQL keeps the plans of a
function's statements for the connection's life, so the call is parsed in a fraction of the time
(measured: 0.31 ms in the database against 0.48 ms). The function does what the statement did, in
the same order: the head row's UPDATE (its row lock is the chain's lock; after waiting for another
writer it works on the head that writer left) draws the id, settles the time (never before the
head's), keeps the hash it moves from in ``prev_hash`` and hashes the entry as
``sha256(prev_hash || JSON before the time || the time as ISO text in UTC || JSON after it)``;
then the INSERT. No head row: a row of NULLs (the caller falls back to locking and rebuilding).
SQLite has no functions: nothing to do there.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0023_audit_append_function'
down_revision = '0022_audit_head_prev'
branch_labels = None
depends_on = None


APPEND = r"""
CREATE OR REPLACE FUNCTION audit_append(
    p_at timestamptz, p_before_at text, p_after_at text, p_relaxed boolean,
    p_actor_kind varchar, p_staff_id integer, p_actor_label varchar, p_action varchar,
    p_record_type varchar, p_record_id bigint, p_resident_ids bigint[], p_rows integer, p_detail json,
    p_ip varchar, p_user_agent varchar, p_request_id varchar,
    OUT id bigint, OUT at timestamptz, OUT prev_hash varchar, OUT hash varchar)
LANGUAGE plpgsql AS $fn$
BEGIN
    UPDATE audit_head h
       SET last_id = nextval('audit_entry_id_seq'),
           last_at = greatest(h.last_at, p_at),  -- greatest() skips a NULL (an empty chain)
           prev_hash = h.last_hash,
           last_hash = encode(sha256(convert_to(
               h.last_hash || p_before_at
               || to_char(greatest(h.last_at, p_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
               || p_after_at, 'UTF8')), 'hex')
     WHERE h.id = 1
    RETURNING h.last_id, h.last_at, h.prev_hash, h.last_hash INTO id, at, prev_hash, hash;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF p_relaxed THEN  -- the transaction logged reads only: its commit need not wait for the disk
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    INSERT INTO audit_entry (id, at, actor_kind, staff_id, actor_label, action, record_type, record_id,
                             resident_ids, rows, detail, ip, user_agent, request_id, prev_hash, hash)
    VALUES (id, at, p_actor_kind, p_staff_id, p_actor_label, p_action, p_record_type, p_record_id,
            p_resident_ids, p_rows, p_detail, p_ip, p_user_agent, p_request_id, prev_hash, hash);
END
$fn$
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_append(timestamptz, text, text, boolean, varchar, integer, varchar, varchar, "
                   "varchar, bigint, bigint[], integer, json, varchar, varchar, varchar)")
