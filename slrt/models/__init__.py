"""Every model, importable from one place (Alembic's env imports this)."""

from slrt.models.audit import AuditEntry, AuditHead
from slrt.models.base import Base
from slrt.models.cases import Case, CaseNeed, Event, FollowUp, Referral
from slrt.models.catalog import Agency, AgencyContact, Document, Service, service_document
from slrt.models.dtsen import DtsenChange, DtsenProposal, ImportHeader, ResidentImport, ResidentImportError
from slrt.models.letters import ReferralLetter
from slrt.models.org import Region, Staff, Unit, unit_village
from slrt.models.people import Household, Resident, ResidentNameWord
from slrt.models.reminders import ReminderDigest, ReminderDigestItem
from slrt.models.reports import CaseTally, ReferralTally
from slrt.models.runs import JobRun
from slrt.models.sign_in import EndedSession, SignInAddress
from slrt.models.sms import Heartbeat, SmsAttempt, SmsMessage, SmsPause, SmsTemplate

__all__ = [
    "Agency",
    "AgencyContact",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Case",
    "CaseNeed",
    "CaseTally",
    "Document",
    "DtsenChange",
    "DtsenProposal",
    "EndedSession",
    "Event",
    "FollowUp",
    "Heartbeat",
    "Household",
    "ImportHeader",
    "JobRun",
    "Referral",
    "ReferralLetter",
    "ReferralTally",
    "Region",
    "ReminderDigest",
    "ReminderDigestItem",
    "Resident",
    "ResidentImport",
    "ResidentImportError",
    "ResidentNameWord",
    "Service",
    "SignInAddress",
    "SmsAttempt",
    "SmsMessage",
    "SmsPause",
    "SmsTemplate",
    "Staff",
    "Unit",
    "service_document",
    "unit_village",
]
