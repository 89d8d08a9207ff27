"""State stored once: the escalation rung, the resident's verification as an enum, the reply key.

Revision ID: 0009_state_stored_once
Revises: 0008_sign_in_hardening
Create Date: 2026-12-05

``referral.escalation_rung`` says how far up the ladder a referral went (0 none, 1 the
agency's head, 2 the supervisor); it was inferred from an ``escalate`` event later than
``escalated_at``. Existing rows get it from the same inference; the events stay, so a
downgrade loses nothing.

``referral.resident_verification`` was free text (empty, "asked", "confirmed"); it is now an
enum that is never empty (``not_asked``), and CHECK constraints keep it and the escalation
rung consistent with their timestamps.

``sms_message.reply_key`` keeps, for a received SMS, the notice key of the reply it got,
which was written into ``error_message``; ``error_message`` now only says when the reply
was withheld by the hourly cap.
"""
import sqlalchemy as sa
from alembic import op

revision = '0009_state_stored_once'
down_revision = '0008_sign_in_hardening'
branch_labels = None
depends_on = None

_VERIFICATION = sa.Enum('not_asked', 'asked', 'confirmed', name='referral_resident_verification',
                        native_enum=False, create_constraint=True)
#: What the hourly cap appended to the reply key in ``error_message`` before this migration.
_CAPPED_SUFFIX = ' (not sent: hourly cap)'
_CAPPED = 'reply not sent: hourly cap'

referral = sa.table(
    'referral',
    sa.column('id', sa.Integer),
    sa.column('escalated_at', sa.DateTime(timezone=True)),
    sa.column('escalation_rung', sa.Integer),
    sa.column('resident_verification', sa.String),
    sa.column('verification_asked_at', sa.DateTime(timezone=True)),
)
event = sa.table(
    'event',
    sa.column('referral_id', sa.Integer),
    sa.column('action', sa.String),
    sa.column('at', sa.DateTime(timezone=True)),
)
sms_message = sa.table(
    'sms_message',
    sa.column('direction', sa.String),
    sa.column('error_message', sa.String),
    sa.column('reply_key', sa.String),
)


def upgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalation_rung', sa.Integer(), nullable=True))
    with op.batch_alter_table('sms_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_key', sa.String(length=48), nullable=True))

    # The rung, as the reminders sweep inferred it: a second "escalate" event after escalated_at.
    climbed = sa.exists().where(event.c.referral_id == referral.c.id, event.c.action == 'escalate',
                                event.c.at > referral.c.escalated_at)
    op.execute(referral.update().values(escalation_rung=sa.case(
        (referral.c.escalated_at.is_(None), 0), (climbed, 2), else_=1)))
    # Nobody asked (or a half-written row): not asked, and no date.
    op.execute(referral.update()
               .where(sa.or_(referral.c.resident_verification.is_(None), referral.c.verification_asked_at.is_(None),
                             referral.c.resident_verification.not_in(('asked', 'confirmed'))))
               .values(resident_verification='not_asked', verification_asked_at=None))
    # The reply key out of error_message; a withheld reply keeps only that in error_message.
    inbound = sms_message.c.direction == 'inbound'
    capped = sms_message.c.error_message.endswith(_CAPPED_SUFFIX, autoescape=True)
    op.execute(sms_message.update().where(inbound, capped).values(
        reply_key=sa.func.substr(sms_message.c.error_message, 1,
                                 sa.func.length(sms_message.c.error_message) - len(_CAPPED_SUFFIX)),
        error_message=_CAPPED))
    op.execute(sms_message.update().where(inbound, sms_message.c.error_message.is_not(None),
                                          sms_message.c.error_message != _CAPPED)
               .values(reply_key=sa.func.substr(sms_message.c.error_message, 1, 48), error_message=None))

    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.alter_column('escalation_rung', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('resident_verification', existing_type=sa.String(length=16), type_=_VERIFICATION,
                              existing_nullable=True, nullable=False)
        batch_op.create_check_constraint(op.f('ck_referral_escalation_rung_on_the_ladder'), 'escalation_rung BETWEEN 0 AND 2')
        batch_op.create_check_constraint(
            op.f('ck_referral_escalated_at_with_rung'),
            '(escalation_rung = 0 AND escalated_at IS NULL) OR (escalation_rung > 0 AND escalated_at IS NOT NULL)')
        batch_op.create_check_constraint(
            op.f('ck_referral_verification_asked_at_when_asked'),
            "(resident_verification = 'not_asked' AND verification_asked_at IS NULL) OR "
            "(resident_verification != 'not_asked' AND verification_asked_at IS NOT NULL)")


def downgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_referral_verification_asked_at_when_asked'), type_='check')
        batch_op.drop_constraint(op.f('ck_referral_escalated_at_with_rung'), type_='check')
        batch_op.drop_constraint(op.f('ck_referral_escalation_rung_on_the_ladder'), type_='check')
        batch_op.alter_column('resident_verification', existing_type=_VERIFICATION, type_=sa.String(length=16),
                              existing_nullable=False, nullable=True)
    op.execute(referral.update().where(referral.c.resident_verification == 'not_asked')
               .values(resident_verification=None))

    # Back into error_message: the key, and the cap's note after it.
    inbound = sms_message.c.direction == 'inbound'
    op.execute(sms_message.update().where(inbound, sms_message.c.reply_key.is_not(None),
                                          sms_message.c.error_message == _CAPPED)
               .values(error_message=sms_message.c.reply_key + _CAPPED_SUFFIX))
    op.execute(sms_message.update().where(inbound, sms_message.c.reply_key.is_not(None))
               .where(sms_message.c.error_message.is_(None))
               .values(error_message=sms_message.c.reply_key))

    with op.batch_alter_table('sms_message', schema=None) as batch_op:
        batch_op.drop_column('reply_key')
    # The rung goes; the "escalate" events it was inferred from are still there.
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_column('escalation_rung')
