"""Create the SLRT schema: regions, units, staff, residents, catalogue, cases, referrals, SMS.

Revision ID: 0001_schema
Revises:
Create Date: 2026-11-24

NIK and KK numbers are stored encrypted (``*_encrypted``) with a keyed-hash lookup column
(``*_hash``, unique) and a masked form for lists. Enums are VARCHAR with CHECK
constraints so the same migration runs on SQLite and PostgreSQL.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001_schema'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('agency',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=160), nullable=False),
    sa.Column('short_name', sa.String(length=30), nullable=False),
    sa.Column('kind', sa.Enum('health_office', 'bpjs', 'hospital', 'education_office', 'baznas', 'civil_registry', 'social_office', 'other', name='agency_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('level', sa.Enum('district', 'province', 'national', name='agency_level', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('reminder_first_days', sa.Integer(), nullable=True),
    sa.Column('reminder_every_days', sa.Integer(), nullable=True),
    sa.Column('reminder_max', sa.Integer(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency')),
    sa.UniqueConstraint('name', name=op.f('uq_agency_name'))
    )
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agency_kind'), ['kind'], unique=False)

    op.create_table('document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('sms_name', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document')),
    sa.UniqueConstraint('code', name=op.f('uq_document_code'))
    )
    op.create_table('heartbeat',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.String(length=120), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_heartbeat'))
    )
    op.create_table('region',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=13), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('level', sa.Enum('province', 'regency', 'district', 'village', name='region_level', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['region.id'], name=op.f('fk_region_parent_id_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_region')),
    sa.UniqueConstraint('code', name=op.f('uq_region_code'))
    )
    with op.batch_alter_table('region', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_region_level'), ['level'], unique=False)
        batch_op.create_index(batch_op.f('ix_region_parent_id'), ['parent_id'], unique=False)

    op.create_table('agency_contact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('is_head', sa.Boolean(), nullable=False),
    sa.Column('receives_reminders', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_agency_contact_agency_id_agency')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_contact'))
    )
    with op.batch_alter_table('agency_contact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agency_contact_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_agency_contact_phone'), ['phone'], unique=False)

    op.create_table('household',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kk_encrypted', sa.Text(), nullable=False),
    sa.Column('kk_hash', sa.String(length=64), nullable=False),
    sa.Column('kk_masked', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('dtks_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['village_id'], ['region.id'], name=op.f('fk_household_village_id_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household')),
    sa.UniqueConstraint('kk_hash', name=op.f('uq_household_kk_hash'))
    )
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_dtks_id'), ['dtks_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_household_village_id'), ['village_id'], unique=False)

    op.create_table('service',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=160), nullable=False),
    sa.Column('short_name', sa.String(length=30), nullable=False),
    sa.Column('domain', sa.Enum('health', 'social', 'education', name='service_domain', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('default_agency_id', sa.Integer(), nullable=True),
    sa.Column('sla_days', sa.Integer(), nullable=False),
    sa.Column('reminder_first_days', sa.Integer(), nullable=False),
    sa.Column('reminder_every_days', sa.Integer(), nullable=False),
    sa.Column('reminder_max', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['default_agency_id'], ['agency.id'], name=op.f('fk_service_default_agency_id_agency')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service')),
    sa.UniqueConstraint('code', name=op.f('uq_service_code'))
    )
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_default_agency_id'), ['default_agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_domain'), ['domain'], unique=False)

    op.create_table('unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.Enum('secretariat', 'puskesos', name='unit_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=255), nullable=True),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['unit.id'], name=op.f('fk_unit_parent_id_unit')),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_unit_region_id_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit')),
    sa.UniqueConstraint('name', name=op.f('uq_unit_name'))
    )
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unit_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_unit_region_id'), ['region_id'], unique=False)

    op.create_table('resident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nik_encrypted', sa.Text(), nullable=False),
    sa.Column('nik_hash', sa.String(length=64), nullable=False),
    sa.Column('nik_masked', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('sex', sa.Enum('M', 'F', name='resident_sex', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('phone_owner', sa.Enum('own', 'family', 'neighbour', 'rt_rw_head', name='resident_phone_owner', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('phone_owner_name', sa.String(length=120), nullable=True),
    sa.Column('is_sms_opted_out', sa.Boolean(), nullable=False),
    sa.Column('sms_opted_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_resident_household_id_household')),
    sa.ForeignKeyConstraint(['village_id'], ['region.id'], name=op.f('fk_resident_village_id_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resident')),
    sa.UniqueConstraint('nik_hash', name=op.f('uq_resident_nik_hash'))
    )
    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resident_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resident_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_resident_phone'), ['phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_resident_village_id'), ['village_id'], unique=False)

    op.create_table('service_document',
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], name=op.f('fk_service_document_document_id_document')),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_service_document_service_id_service'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('service_id', 'document_id', name=op.f('pk_service_document'))
    )
    with op.batch_alter_table('service_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_document_document_id'), ['document_id'], unique=False)

    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('full_name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.Enum('manager', 'supervisor', 'facilitator', 'front_office', 'back_office', name='staff_role', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_staff_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_username'))
    )
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_role'), ['role'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_unit_id'), ['unit_id'], unique=False)

    op.create_table('case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket', sa.String(length=16), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.Enum('walk_in', 'puskesos', 'outreach', 'phone', 'sms', name='case_channel', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('urgency', sa.Enum('normal', 'urgent', 'emergency', name='case_urgency', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('status', sa.Enum('open', 'in_progress', 'resolved', 'closed', 'cancelled', name='case_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('opened_by_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.Enum('fulfilled', 'partial', 'unfulfilled', name='case_outcome', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('outcome_note', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['staff.id'], name=op.f('fk_case_assignee_id_staff')),
    sa.ForeignKeyConstraint(['opened_by_id'], ['staff.id'], name=op.f('fk_case_opened_by_id_staff')),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_case_resident_id_resident')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_case_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case')),
    sa.UniqueConstraint('ticket', name=op.f('uq_case_ticket'))
    )
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_channel'), ['channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_opened_at'), ['opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_opened_by_id'), ['opened_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_resident_id'), ['resident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index('ix_case_unit_id_status_opened_at', ['unit_id', 'status', 'opened_at'], unique=False)

    op.create_table('sms_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=48), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('is_flagged', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['staff.id'], name=op.f('fk_sms_template_updated_by_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_template')),
    sa.UniqueConstraint('key', 'language', name=op.f('uq_sms_template_key_language'))
    )
    with op.batch_alter_table('sms_template', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_template_updated_by_id'), ['updated_by_id'], unique=False)

    op.create_table('case_need',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_case_need_case_id_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_case_need_service_id_service')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_need'))
    )
    with op.batch_alter_table('case_need', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_need_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_need_service_id'), ['service_id'], unique=False)

    op.create_table('referral',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('sent', 'accepted', 'completed', 'rejected', 'cancelled', name='referral_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('documents_checked', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('in_process_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rejected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reopened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('completion_note', sa.Text(), nullable=True),
    sa.Column('reopened_count', sa.Integer(), nullable=False),
    sa.Column('reminders_sent', sa.Integer(), nullable=False),
    sa.Column('last_reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('reminders_sent >= 0', name=op.f('ck_referral_reminders_sent_not_negative')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_referral_agency_id_agency')),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_referral_case_id_case')),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff.id'], name=op.f('fk_referral_created_by_id_staff')),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_referral_service_id_service')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral')),
    sa.UniqueConstraint('code', name=op.f('uq_referral_code'))
    )
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index('ix_referral_agency_id_status_due_at', ['agency_id', 'status', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_escalated_at'), ['escalated_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_sent_at'), ['sent_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_service_id'), ['service_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_status'), ['status'], unique=False)

    op.create_table('event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('status', 'in_process', 'reassigned', 'note', name='event_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=True),
    sa.Column('actor_staff_id', sa.Integer(), nullable=True),
    sa.Column('actor_contact_id', sa.Integer(), nullable=True),
    sa.Column('actor_phone', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_contact_id'], ['agency_contact.id'], name=op.f('fk_event_actor_contact_id_agency_contact')),
    sa.ForeignKeyConstraint(['actor_staff_id'], ['staff.id'], name=op.f('fk_event_actor_staff_id_staff')),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_event_case_id_case')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_event_referral_id_referral')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event'))
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_actor_contact_id'), ['actor_contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_actor_staff_id'), ['actor_staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_referral_id'), ['referral_id'], unique=False)

    op.create_table('sms_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.Enum('outbound', 'inbound', name='sms_direction', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('audience', sa.Enum('resident', 'agency', 'staff', name='sms_audience', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('template_key', sa.String(length=48), nullable=True),
    sa.Column('encoding', sa.Enum('gsm7', 'ucs2', name='sms_encoding', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('segments', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'dropped', 'received', name='sms_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('gateway', sa.String(length=16), nullable=True),
    sa.Column('provider_id', sa.String(length=64), nullable=True),
    sa.Column('error_code', sa.String(length=16), nullable=True),
    sa.Column('error_message', sa.String(length=255), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dedupe_key', sa.String(length=160), nullable=True),
    sa.Column('expected_status', sa.String(length=16), nullable=True),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('referral_id', sa.Integer(), nullable=True),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_sms_message_case_id_case')),
    sa.ForeignKeyConstraint(['contact_id'], ['agency_contact.id'], name=op.f('fk_sms_message_contact_id_agency_contact')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_sms_message_referral_id_referral')),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_sms_message_resident_id_resident')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_sms_message_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_message')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_sms_message_dedupe_key'))
    )
    with op.batch_alter_table('sms_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_message_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_message_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_message_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_message_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_message_phone'), ['phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_message_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_message_referral_id'), ['referral_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_message_resident_id'), ['resident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_message_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_message_status'), ['status'], unique=False)
        batch_op.create_index('ix_sms_message_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_message_template_key'), ['template_key'], unique=False)



def downgrade():
    with op.batch_alter_table('sms_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_message_template_key'))
        batch_op.drop_index('ix_sms_message_status_next_attempt_at')
        batch_op.drop_index(batch_op.f('ix_sms_message_status'))
        batch_op.drop_index(batch_op.f('ix_sms_message_staff_id'))
        batch_op.drop_index(batch_op.f('ix_sms_message_resident_id'))
        batch_op.drop_index(batch_op.f('ix_sms_message_referral_id'))
        batch_op.drop_index(batch_op.f('ix_sms_message_provider_id'))
        batch_op.drop_index(batch_op.f('ix_sms_message_phone'))
        batch_op.drop_index(batch_op.f('ix_sms_message_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_sms_message_created_at'))
        batch_op.drop_index(batch_op.f('ix_sms_message_contact_id'))
        batch_op.drop_index(batch_op.f('ix_sms_message_case_id'))

    op.drop_table('sms_message')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_referral_id'))
        batch_op.drop_index(batch_op.f('ix_event_case_id'))
        batch_op.drop_index(batch_op.f('ix_event_at'))
        batch_op.drop_index(batch_op.f('ix_event_actor_staff_id'))
        batch_op.drop_index(batch_op.f('ix_event_actor_contact_id'))

    op.drop_table('event')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_status'))
        batch_op.drop_index(batch_op.f('ix_referral_service_id'))
        batch_op.drop_index(batch_op.f('ix_referral_sent_at'))
        batch_op.drop_index(batch_op.f('ix_referral_escalated_at'))
        batch_op.drop_index(batch_op.f('ix_referral_due_at'))
        batch_op.drop_index(batch_op.f('ix_referral_created_by_id'))
        batch_op.drop_index(batch_op.f('ix_referral_case_id'))
        batch_op.drop_index('ix_referral_agency_id_status_due_at')
        batch_op.drop_index(batch_op.f('ix_referral_agency_id'))

    op.drop_table('referral')
    with op.batch_alter_table('case_need', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_need_service_id'))
        batch_op.drop_index(batch_op.f('ix_case_need_case_id'))

    op.drop_table('case_need')
    with op.batch_alter_table('sms_template', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_template_updated_by_id'))

    op.drop_table('sms_template')
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_unit_id_status_opened_at')
        batch_op.drop_index(batch_op.f('ix_case_unit_id'))
        batch_op.drop_index(batch_op.f('ix_case_status'))
        batch_op.drop_index(batch_op.f('ix_case_resident_id'))
        batch_op.drop_index(batch_op.f('ix_case_opened_by_id'))
        batch_op.drop_index(batch_op.f('ix_case_opened_at'))
        batch_op.drop_index(batch_op.f('ix_case_channel'))
        batch_op.drop_index(batch_op.f('ix_case_assignee_id'))

    op.drop_table('case')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_unit_id'))
        batch_op.drop_index(batch_op.f('ix_staff_role'))

    op.drop_table('staff')
    with op.batch_alter_table('service_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_document_document_id'))

    op.drop_table('service_document')
    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resident_village_id'))
        batch_op.drop_index(batch_op.f('ix_resident_phone'))
        batch_op.drop_index(batch_op.f('ix_resident_name'))
        batch_op.drop_index(batch_op.f('ix_resident_household_id'))

    op.drop_table('resident')
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_region_id'))
        batch_op.drop_index(batch_op.f('ix_unit_parent_id'))

    op.drop_table('unit')
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_domain'))
        batch_op.drop_index(batch_op.f('ix_service_default_agency_id'))

    op.drop_table('service')
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_village_id'))
        batch_op.drop_index(batch_op.f('ix_household_dtks_id'))

    op.drop_table('household')
    with op.batch_alter_table('agency_contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agency_contact_phone'))
        batch_op.drop_index(batch_op.f('ix_agency_contact_agency_id'))

    op.drop_table('agency_contact')
    with op.batch_alter_table('region', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_region_parent_id'))
        batch_op.drop_index(batch_op.f('ix_region_level'))

    op.drop_table('region')
    op.drop_table('heartbeat')
    op.drop_table('document')
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agency_kind'))

    op.drop_table('agency')
