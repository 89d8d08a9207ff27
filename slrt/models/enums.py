"""The closed vocabularies of the domain. Values are stored; labels are for screens.

Every vocabulary a person may see has its words declared once, right below it, with
:func:`labels`; ``member.label`` says them in the reader's language (Indonesian by
default). Screens, filters, forms, exports, the timeline and the dashboard read ``.label``
(admin_views/base.py does it for every enum column at once); nothing shows ``.value``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, IntEnum, StrEnum

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

#: enum class -> member -> its words (lazy: translated when shown).
_LABELS: dict[type, Mapping] = {}


class Labelled:
    """A vocabulary with words for screens: ``member.label``, ``Enum.choices()``."""

    @property
    def label(self) -> LazyString:
        return _LABELS[type(self)][self]

    @classmethod
    def choices(cls) -> list[tuple[str, LazyString]]:
        """(stored value, words) of every member, in declaration order: a dropdown's options."""
        return [(str(member.value), member.label) for member in cls]  # type: ignore[attr-defined]


def labels(enum_class: type[Enum], words: Mapping) -> Mapping:
    """Declare the words of every member of ``enum_class`` (all of them, or it refuses); returns ``words``."""
    missing = [member.name for member in enum_class if member not in words]
    if missing or not issubclass(enum_class, Labelled):
        raise TypeError(f"{enum_class.__name__}: no label for {missing}" if missing else
                        f"{enum_class.__name__} is not Labelled")
    _LABELS[enum_class] = words
    return words


def label_of(enum_class: type[Enum], value: object) -> object:
    """The words of a stored value of ``enum_class`` (a member or its value); an unknown value as it is."""
    try:
        return enum_class(value).label  # type: ignore[attr-defined]
    except ValueError:
        return value


class RegionLevel(Labelled, StrEnum):
    PROVINCE = "province"
    REGENCY = "regency"
    DISTRICT = "district"  # kecamatan
    VILLAGE = "village"  # desa / kelurahan


labels(RegionLevel, {RegionLevel.PROVINCE: _l("province"), RegionLevel.REGENCY: _l("regency or city"),
                     RegionLevel.DISTRICT: _l("subdistrict (kecamatan)"), RegionLevel.VILLAGE: _l("village")})


class VillageKind(Labelled, StrEnum):
    """A village's kind, read from its Kemendagri code: last four digits 1xxx kelurahan, 2xxx desa,
    3xxx desa adat (Papua)."""

    # Names and values are not the Indonesian words: those are the labels.
    URBAN = "urban"  # kelurahan
    RURAL = "rural"  # desa
    CUSTOMARY = "customary"  # desa adat


labels(VillageKind, {VillageKind.URBAN: _l("kelurahan"), VillageKind.RURAL: _l("desa"),
                     VillageKind.CUSTOMARY: _l("desa adat")})


class UnitKind(Labelled, StrEnum):
    SECRETARIAT = "secretariat"
    PUSKESOS = "puskesos"


labels(UnitKind, {UnitKind.SECRETARIAT: _l("secretariat"), UnitKind.PUSKESOS: _l("Puskesos")})


class Role(Labelled, StrEnum):
    MANAGER = "manager"
    SUPERVISOR = "supervisor"
    FACILITATOR = "facilitator"
    FRONT_OFFICE = "front_office"
    BACK_OFFICE = "back_office"


ROLE_LABELS = labels(Role, {
    Role.MANAGER: _l("Manager"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.FACILITATOR: _l("Facilitator"),
    Role.FRONT_OFFICE: _l("Front office"),
    Role.BACK_OFFICE: _l("Back office"),
})


class Sex(Labelled, StrEnum):
    MALE = "M"
    FEMALE = "F"


labels(Sex, {Sex.MALE: _l("male"), Sex.FEMALE: _l("female")})


class PhoneOwner(Labelled, StrEnum):
    """Whose phone a resident's number is: later SMS rules depend on it."""

    OWN = "own"
    FAMILY = "family"
    NEIGHBOUR = "neighbour"
    RT_RW_HEAD = "rt_rw_head"


labels(PhoneOwner, {PhoneOwner.OWN: _l("own"), PhoneOwner.FAMILY: _l("family"),
                    PhoneOwner.NEIGHBOUR: _l("neighbour"), PhoneOwner.RT_RW_HEAD: _l("RT/RW head")})


class Language(Labelled, StrEnum):
    """The language of a resident's SMS, of a staff member's screens, of a template (stored as text)."""

    ID = "id"
    EN = "en"


labels(Language, {Language.ID: _l("Indonesian"), Language.EN: _l("English")})


class Domain(Labelled, StrEnum):
    HEALTH = "health"
    SOCIAL = "social"
    EDUCATION = "education"


#: The referral slip's card colour per domain (SLRT practice).
DOMAIN_COLOURS = {Domain.HEALTH: "blue", Domain.SOCIAL: "pink", Domain.EDUCATION: "yellow"}
DOMAIN_LABELS = labels(Domain, {Domain.HEALTH: _l("Health"), Domain.SOCIAL: _l("Social"),
                                Domain.EDUCATION: _l("Education")})


class AgencyKind(Labelled, StrEnum):
    HEALTH_OFFICE = "health_office"  # Dinas Kesehatan
    BPJS = "bpjs"  # BPJS Kesehatan
    HOSPITAL = "hospital"  # RSUD
    EDUCATION_OFFICE = "education_office"  # Dinas Pendidikan
    BAZNAS = "baznas"
    CIVIL_REGISTRY = "civil_registry"  # Disdukcapil
    SOCIAL_OFFICE = "social_office"  # Dinas Sosial / Kemensos
    OTHER = "other"


AGENCY_KIND_LABELS = labels(AgencyKind, {
    AgencyKind.HEALTH_OFFICE: _l("Health office"),
    AgencyKind.BPJS: _l("BPJS Kesehatan"),
    AgencyKind.HOSPITAL: _l("Hospital"),
    AgencyKind.EDUCATION_OFFICE: _l("Education office"),
    AgencyKind.BAZNAS: _l("Baznas"),
    AgencyKind.CIVIL_REGISTRY: _l("Civil registry"),
    AgencyKind.SOCIAL_OFFICE: _l("Social office"),
    AgencyKind.OTHER: _l("Other"),
})


class AgencyLevel(Labelled, StrEnum):
    DISTRICT = "district"
    PROVINCE = "province"
    NATIONAL = "national"


AGENCY_LEVEL_LABELS = labels(AgencyLevel, {
    AgencyLevel.DISTRICT: _l("Regency/city"),
    AgencyLevel.PROVINCE: _l("Province"),
    AgencyLevel.NATIONAL: _l("National"),
})


class Channel(Labelled, StrEnum):
    WALK_IN = "walk_in"
    PUSKESOS = "puskesos"
    OUTREACH = "outreach"  # jemput bola
    PHONE = "phone"
    SMS = "sms"


labels(Channel, {Channel.WALK_IN: _l("walk-in"), Channel.PUSKESOS: _l("Puskesos"),
                 Channel.OUTREACH: _l("outreach (jemput bola)"), Channel.PHONE: _l("phone"), Channel.SMS: "SMS"})


class Urgency(Labelled, StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"
    EMERGENCY = "emergency"


labels(Urgency, {Urgency.NORMAL: _l("normal"), Urgency.URGENT: _l("urgent"), Urgency.EMERGENCY: _l("emergency")})


class CaseStatus(Labelled, StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


labels(CaseStatus, {CaseStatus.OPEN: _l("open"), CaseStatus.IN_PROGRESS: _l("in progress"),
                    CaseStatus.RESOLVED: _l("resolved"), CaseStatus.CLOSED: _l("closed"),
                    CaseStatus.CANCELLED: _l("cancelled")})


class Outcome(Labelled, StrEnum):
    FULFILLED = "fulfilled"
    PARTIAL = "partial"
    UNFULFILLED = "unfulfilled"


labels(Outcome, {Outcome.FULFILLED: _l("fulfilled"), Outcome.PARTIAL: _l("partly fulfilled"),
                 Outcome.UNFULFILLED: _l("not fulfilled")})


class ReferralStatus(Labelled, StrEnum):
    SENT = "sent"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


labels(ReferralStatus, {ReferralStatus.SENT: _l("sent"), ReferralStatus.ACCEPTED: _l("accepted"),
                        ReferralStatus.COMPLETED: _l("completed"), ReferralStatus.REJECTED: _l("rejected"),
                        ReferralStatus.CANCELLED: _l("cancelled")})

#: A referral in one of these states still needs the agency's work.
REFERRAL_ACTIVE = frozenset({ReferralStatus.SENT, ReferralStatus.ACCEPTED})


class EscalationRung(Labelled, IntEnum):
    """How far up the ladder an unanswered referral went (slrt.reminders)."""

    NONE = 0
    AGENCY_HEAD = 1
    SUPERVISOR = 2  # the case unit's supervisor


labels(EscalationRung, {EscalationRung.NONE: _l("not escalated"),
                        EscalationRung.AGENCY_HEAD: _l("to the agency head"),
                        EscalationRung.SUPERVISOR: _l("to the unit's supervisor")})


class ResidentVerification(Labelled, StrEnum):
    """Resident-verified closure: whether the completion SMS asked "1 Ya / 2 Belum", and the answer."""

    NOT_ASKED = "not_asked"
    ASKED = "asked"
    CONFIRMED = "confirmed"  # the resident answered 1


labels(ResidentVerification, {ResidentVerification.NOT_ASKED: _l("not asked"),
                              ResidentVerification.ASKED: _l("asked, no answer yet"),
                              ResidentVerification.CONFIRMED: _l("confirmed by the resident")})


class EventKind(Labelled, StrEnum):
    STATUS = "status"  # a transition: from -> to
    IN_PROCESS = "in_process"  # an agency's "being processed" answer
    REASSIGNED = "reassigned"
    NOTE = "note"


labels(EventKind, {EventKind.STATUS: _l("status change"), EventKind.IN_PROCESS: _l("in process"),
                   EventKind.REASSIGNED: _l("reassigned"), EventKind.NOTE: _l("note")})


class SmsDirection(Labelled, StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


labels(SmsDirection, {SmsDirection.OUTBOUND: _l("outgoing"), SmsDirection.INBOUND: _l("incoming")})


class SmsStatus(Labelled, StrEnum):
    PENDING = "pending"  # in the outbox, not yet claimed
    SENDING = "sending"  # claimed by a worker
    SENT = "sent"  # accepted by the provider
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    DROPPED = "dropped"  # not sent on purpose: stale, opted out
    RECEIVED = "received"  # inbound


labels(SmsStatus, {
    SmsStatus.PENDING: _l("waiting to be sent"), SmsStatus.SENDING: _l("being sent"),
    SmsStatus.SENT: _l("sent to the provider"), SmsStatus.DELIVERED: _l("delivered"),
    SmsStatus.UNDELIVERED: _l("not delivered"), SmsStatus.FAILED: _l("failed"),
    SmsStatus.DROPPED: _l("not sent"), SmsStatus.RECEIVED: _l("received"),
})


class SmsAudience(Labelled, StrEnum):
    RESIDENT = "resident"
    AGENCY = "agency"
    STAFF = "staff"


labels(SmsAudience, {SmsAudience.RESIDENT: _l("resident"), SmsAudience.AGENCY: _l("agency"),
                     SmsAudience.STAFF: _l("staff")})


class FollowUpReason(Labelled, StrEnum):
    SMS_FAILED = "sms_failed"  # the provider could not deliver, for good
    NO_RECEIPT = "no_receipt"  # accepted, but no delivery receipt came in time


labels(FollowUpReason, {FollowUpReason.SMS_FAILED: _l("the SMS could not be delivered"),
                        FollowUpReason.NO_RECEIPT: _l("no delivery report for the SMS")})


class FollowUpStatus(Labelled, StrEnum):
    OPEN = "open"
    DONE = "done"


labels(FollowUpStatus, {FollowUpStatus.OPEN: _l("to do"), FollowUpStatus.DONE: _l("done")})


class SmsEncoding(Labelled, StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


labels(SmsEncoding, {SmsEncoding.GSM7: _l("GSM-7 (160 characters per SMS)"),
                     SmsEncoding.UCS2: _l("UCS-2 (70 characters per SMS)")})


class DtsenStatus(Labelled, StrEnum):
    """A person's status in DTSEN (Data Tunggal Sosial Ekonomi Nasional), as the district's export says."""

    CONFIRMED = "confirmed"  # Terkonfirmasi
    UNCONFIRMED = "unconfirmed"  # Tidak terkonfirmasi
    NEW = "new"  # Baru (proposed, not yet ranked)
    DUPLICATE = "duplicate"  # Ganda
    MOVED = "moved"  # Pindah
    NOT_FOUND = "not_found"  # Tidak ditemukan
    DECEASED = "deceased"  # Meninggal: kept with this status; never sent an SMS


labels(DtsenStatus, {DtsenStatus.CONFIRMED: _l("confirmed"), DtsenStatus.UNCONFIRMED: _l("not confirmed"),
                     DtsenStatus.NEW: _l("new (proposed)"), DtsenStatus.DUPLICATE: _l("duplicate"),
                     DtsenStatus.MOVED: _l("moved away"), DtsenStatus.NOT_FOUND: _l("not found"),
                     DtsenStatus.DECEASED: _l("deceased")})


class FamilyRelation(Labelled, IntEnum):
    """A member's place in the family (hubungan keluarga), coded 1-8 as DTSEN exports do."""

    HEAD = 1
    SPOUSE = 2
    CHILD = 3
    CHILD_IN_LAW = 4
    GRANDCHILD = 5
    PARENT = 6
    HOUSEHOLD_HELP = 7
    OTHER = 8


labels(FamilyRelation, {FamilyRelation.HEAD: _l("head of the family"), FamilyRelation.SPOUSE: _l("wife/husband"),
                        FamilyRelation.CHILD: _l("child"), FamilyRelation.CHILD_IN_LAW: _l("son/daughter-in-law"),
                        FamilyRelation.GRANDCHILD: _l("grandchild"),
                        FamilyRelation.PARENT: _l("parent/parent-in-law"),
                        FamilyRelation.HOUSEHOLD_HELP: _l("household help"), FamilyRelation.OTHER: _l("other")})


class Programme(Labelled, StrEnum):
    """Social assistance programmes a DTSEN export flags per person (stored as their values, space-separated)."""

    PKH = "pkh"  # Program Keluarga Harapan
    BPNT = "bpnt"  # Bantuan Pangan Non Tunai (Sembako)
    PBI_JK = "pbi_jk"  # Penerima Bantuan Iuran Jaminan Kesehatan (BPJS paid by the state)
    PIP = "pip"  # Program Indonesia Pintar (KIP)
    BLT = "blt"  # Bantuan Langsung Tunai (Dana Desa)


# Programme names are names: the same in every language.
labels(Programme, {Programme.PKH: "PKH", Programme.BPNT: "BPNT", Programme.PBI_JK: "PBI-JK",
                   Programme.PIP: "PIP", Programme.BLT: "BLT"})


class ImportState(Labelled, StrEnum):
    """Where a residents' import stands: queued for a worker, running, finished, or stopped by an error."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


labels(ImportState, {ImportState.QUEUED: _l("waiting for a worker"), ImportState.RUNNING: _l("running"),
                     ImportState.DONE: _l("finished"), ImportState.FAILED: _l("stopped by an error")})


class AuditActor(Labelled, StrEnum):
    """Who an audit entry says acted: a staff account, an agency contact or a resident by SMS, the
    application on its own (tasks, beat) or an operator at the server's command line."""

    STAFF = "staff"
    CONTACT = "contact"
    RESIDENT = "resident"
    SYSTEM = "system"
    CLI = "cli"


labels(AuditActor, {AuditActor.STAFF: _l("staff"), AuditActor.CONTACT: _l("agency contact"),
                    AuditActor.RESIDENT: _l("resident (SMS)"), AuditActor.SYSTEM: _l("system"),
                    AuditActor.CLI: _l("server operator")})


class AuditAction(Labelled, StrEnum):
    """What an audit entry records: a read of personal data, a change, or an event of the office's security."""

    VIEW = "view"
    REVEAL_NIK = "reveal_nik"
    REVEAL_KK = "reveal_kk"
    LIST = "list"
    SEARCH = "search"
    EXPORT = "export"
    IMPORT = "import"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    TRANSITION = "transition"
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_OUT = "sign_out"
    AUTHENTICATOR_RESET = "authenticator_reset"
    SETTINGS = "settings"
    TEMPLATE = "template"
    SUBJECT_EXPORT = "subject_export"
    ERASE = "erase"
    RETENTION = "retention"
    AUDIT_PURGE = "audit_purge"
    SMS_COMMAND = "sms_command"


labels(AuditAction, {
    AuditAction.VIEW: _l("viewed"),
    AuditAction.REVEAL_NIK: _l("showed the full NIK"),
    AuditAction.REVEAL_KK: _l("showed the full KK number"),
    AuditAction.LIST: _l("list"),
    AuditAction.SEARCH: _l("search"),
    AuditAction.EXPORT: _l("export"),
    AuditAction.IMPORT: _l("import"),
    AuditAction.CREATE: _l("created"),
    AuditAction.UPDATE: _l("changed"),
    AuditAction.DELETE: _l("deleted"),
    AuditAction.TRANSITION: _l("status change"),
    AuditAction.SIGN_IN: _l("signed in"),
    AuditAction.SIGN_IN_FAILED: _l("failed sign-in"),
    AuditAction.SIGN_OUT: _l("signed out"),
    AuditAction.AUTHENTICATOR_RESET: _l("authenticator reset"),
    AuditAction.SETTINGS: _l("settings changed"),
    AuditAction.TEMPLATE: _l("SMS template changed"),
    AuditAction.SUBJECT_EXPORT: _l("resident's data export (subject access)"),
    AuditAction.ERASE: _l("resident's data erased"),
    AuditAction.RETENTION: _l("retention run"),
    AuditAction.AUDIT_PURGE: _l("old audit entries dropped"),
    AuditAction.SMS_COMMAND: _l("SMS command"),
})
