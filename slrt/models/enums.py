"""The closed vocabularies of the domain. Values are stored; labels are for screens."""

from __future__ import annotations

from enum import IntEnum, StrEnum

from flask_babel import lazy_gettext as _l


class RegionLevel(StrEnum):
    PROVINCE = "province"
    REGENCY = "regency"
    DISTRICT = "district"  # kecamatan
    VILLAGE = "village"  # desa / kelurahan


REGION_LEVEL_LABELS = {
    RegionLevel.PROVINCE: _l("Province"),
    RegionLevel.REGENCY: _l("Regency / city"),
    RegionLevel.DISTRICT: _l("District (kecamatan)"),
    RegionLevel.VILLAGE: _l("Village (desa/kelurahan)"),
}


class VillageKind(StrEnum):
    """A village's kind, read from its Kemendagri code: last four digits 1xxx kelurahan, 2xxx desa,
    3xxx desa adat (Papua)."""

    KELURAHAN = "kelurahan"
    DESA = "desa"
    DESA_ADAT = "desa_adat"


VILLAGE_KIND_LABELS = {VillageKind.KELURAHAN: _l("Kelurahan"), VillageKind.DESA: _l("Desa"),
                       VillageKind.DESA_ADAT: _l("Desa adat")}


class UnitKind(StrEnum):
    SECRETARIAT = "secretariat"
    PUSKESOS = "puskesos"


UNIT_KIND_LABELS = {UnitKind.SECRETARIAT: _l("Secretariat"), UnitKind.PUSKESOS: _l("Puskesos")}


class Role(StrEnum):
    MANAGER = "manager"
    SUPERVISOR = "supervisor"
    FACILITATOR = "facilitator"
    FRONT_OFFICE = "front_office"
    BACK_OFFICE = "back_office"


ROLE_LABELS = {
    Role.MANAGER: _l("Manager"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.FACILITATOR: _l("Facilitator"),
    Role.FRONT_OFFICE: _l("Front office"),
    Role.BACK_OFFICE: _l("Back office"),
}


class Sex(StrEnum):
    MALE = "M"
    FEMALE = "F"


class PhoneOwner(StrEnum):
    """Whose phone a resident's number is: later SMS rules depend on it."""

    OWN = "own"
    FAMILY = "family"
    NEIGHBOUR = "neighbour"
    RT_RW_HEAD = "rt_rw_head"


class Domain(StrEnum):
    HEALTH = "health"
    SOCIAL = "social"
    EDUCATION = "education"


#: The referral slip's card colour per domain (SLRT practice).
DOMAIN_COLOURS = {Domain.HEALTH: "blue", Domain.SOCIAL: "pink", Domain.EDUCATION: "yellow"}
DOMAIN_LABELS = {Domain.HEALTH: _l("Health"), Domain.SOCIAL: _l("Social"), Domain.EDUCATION: _l("Education")}


class AgencyKind(StrEnum):
    HEALTH_OFFICE = "health_office"  # Dinas Kesehatan
    BPJS = "bpjs"  # BPJS Kesehatan
    HOSPITAL = "hospital"  # RSUD
    EDUCATION_OFFICE = "education_office"  # Dinas Pendidikan
    BAZNAS = "baznas"
    CIVIL_REGISTRY = "civil_registry"  # Disdukcapil
    SOCIAL_OFFICE = "social_office"  # Dinas Sosial / Kemensos
    OTHER = "other"


class AgencyLevel(StrEnum):
    DISTRICT = "district"
    PROVINCE = "province"
    NATIONAL = "national"


AGENCY_KIND_LABELS = {
    AgencyKind.HEALTH_OFFICE: _l("Health office"),
    AgencyKind.BPJS: _l("BPJS Kesehatan"),
    AgencyKind.HOSPITAL: _l("Hospital"),
    AgencyKind.EDUCATION_OFFICE: _l("Education office"),
    AgencyKind.BAZNAS: _l("Baznas"),
    AgencyKind.CIVIL_REGISTRY: _l("Civil registry"),
    AgencyKind.SOCIAL_OFFICE: _l("Social office"),
    AgencyKind.OTHER: _l("Other"),
}
AGENCY_LEVEL_LABELS = {
    AgencyLevel.DISTRICT: _l("Regency/city"),
    AgencyLevel.PROVINCE: _l("Province"),
    AgencyLevel.NATIONAL: _l("National"),
}


class Channel(StrEnum):
    WALK_IN = "walk_in"
    PUSKESOS = "puskesos"
    OUTREACH = "outreach"  # jemput bola
    PHONE = "phone"
    SMS = "sms"


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"
    EMERGENCY = "emergency"


class CaseStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Outcome(StrEnum):
    FULFILLED = "fulfilled"
    PARTIAL = "partial"
    UNFULFILLED = "unfulfilled"


class ReferralStatus(StrEnum):
    SENT = "sent"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


#: A referral in one of these states still needs the agency's work.
REFERRAL_ACTIVE = frozenset({ReferralStatus.SENT, ReferralStatus.ACCEPTED})


class EscalationRung(IntEnum):
    """How far up the ladder an unanswered referral went (slrt.reminders)."""

    NONE = 0
    AGENCY_HEAD = 1
    SUPERVISOR = 2  # the case unit's supervisor


class ResidentVerification(StrEnum):
    """Resident-verified closure: whether the completion SMS asked "1 Ya / 2 Belum", and the answer."""

    NOT_ASKED = "not_asked"
    ASKED = "asked"
    CONFIRMED = "confirmed"  # the resident answered 1


class EventKind(StrEnum):
    STATUS = "status"  # a transition: from -> to
    IN_PROCESS = "in_process"  # an agency's "being processed" answer
    REASSIGNED = "reassigned"
    NOTE = "note"


class SmsDirection(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class SmsStatus(StrEnum):
    PENDING = "pending"  # in the outbox, not yet claimed
    SENDING = "sending"  # claimed by a worker
    SENT = "sent"  # accepted by the provider
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    DROPPED = "dropped"  # not sent on purpose: stale, opted out
    RECEIVED = "received"  # inbound


class SmsAudience(StrEnum):
    RESIDENT = "resident"
    AGENCY = "agency"
    STAFF = "staff"


class FollowUpReason(StrEnum):
    SMS_FAILED = "sms_failed"  # the provider could not deliver, for good
    NO_RECEIPT = "no_receipt"  # accepted, but no delivery receipt came in time


class FollowUpStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class SmsEncoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"
