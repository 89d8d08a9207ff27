"""Staff sign-in: Flask-Security fields, second factor, lockout and sign-in tracking.

Revision ID: 0002_staff_sign_in
Revises: 0001_schema
Create Date: 2026-11-24

Existing accounts keep their rows: each gets a fresh ``fs_uniquifier``; counters start at 0.
Passwords hashed before this migration (werkzeug) do not verify under Flask-Security:
set them again with ``flask slrt set-password``.
"""
import uuid

import sqlalchemy as sa
from alembic import op

revision = '0002_staff_sign_in'
down_revision = '0001_schema'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('fs_uniquifier', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('tf_primary_method', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('tf_totp_secret', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('tf_phone_number', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('failed_login_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('current_login_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_login_ip', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('current_login_ip', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('login_count', sa.Integer(), nullable=False, server_default='0'))

    staff = sa.table('staff', sa.column('id', sa.Integer), sa.column('fs_uniquifier', sa.String))
    conn = op.get_bind()
    for (staff_id,) in conn.execute(sa.select(staff.c.id)).fetchall():
        conn.execute(staff.update().where(staff.c.id == staff_id).values(fs_uniquifier=uuid.uuid4().hex))

    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.alter_column('fs_uniquifier', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('failed_login_count', server_default=None, existing_type=sa.Integer())
        batch_op.alter_column('login_count', server_default=None, existing_type=sa.Integer())
        batch_op.create_unique_constraint(batch_op.f('uq_staff_fs_uniquifier'), ['fs_uniquifier'])


def downgrade():
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_staff_fs_uniquifier'), type_='unique')
        for column in ('login_count', 'current_login_ip', 'last_login_ip', 'current_login_at', 'last_login_at',
                       'locked_until', 'failed_login_count', 'tf_phone_number', 'tf_totp_secret',
                       'tf_primary_method', 'fs_uniquifier', 'email'):
            batch_op.drop_column(column)
