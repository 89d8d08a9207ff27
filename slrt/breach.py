"""Breach response (UU PDP 27/2022): whose personal data one account or one address read, and the notice each is owed.

After a breach (a stolen password, a shared computer, an address that should never have reached the
screens) the office must tell every affected resident and the authority within 3x24 hours what was
exposed. :func:`report` answers from the audit log: every entry by that account (``staff_id``) or from
that address (``ip``) in the window that read personal data (a page, a full NIK or KK shown, a list,
a search, an export), through each entry's ``resident_ids``; per resident, what was seen, how and how
many times, and a ready-to-send SMS notice in Indonesian (GSM-7, at most two parts, no NIK, no other
person's name; a phone held by someone else gets the message for the resident without saying what was
seen). :func:`write` puts it in a CSV or XLSX file for the operator; the counts alone are safe to print.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from babel.dates import format_date
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from slrt import audit, audit_search, clock, csvout, gsm, outbox, xlsxout
from slrt.errors import ValidationError
from slrt.extensions import db
from slrt.models import AuditEntry, Resident, Staff
from slrt.models.enums import AuditAction, PhoneOwner, SmsEncoding

#: The entries by which an account saw residents' personal data (a change is always made on a page
#: whose view is logged itself).
READS = (AuditAction.VIEW, AuditAction.REVEAL_NIK, AuditAction.REVEAL_KK, AuditAction.LIST, AuditAction.SEARCH,
         AuditAction.EXPORT, AuditAction.SUBJECT_EXPORT)
#: Hours the office has to tell the residents and the authority (UU PDP art. 46: 3 x 24 hours).
NOTICE_HOURS = 72
#: Parts an SMS notice may take at most.
MAX_SEGMENTS = 2

#: What a resident is told was seen, by record type (Indonesian: the notice is in Indonesian).
SEEN_WORDS = {
    "resident": "identitas", "household": "data keluarga (KK)", "case": "pengaduan", "referral": "rujukan",
    "sms": "isi SMS", "follow_up": "tindak lanjut", "dtsen_proposal": "usulan DTSEN",
}
#: ... and by action, when the action itself says more than the record (a full number shown).
SEEN_BY_ACTION = {AuditAction.REVEAL_NIK: "NIK lengkap", AuditAction.REVEAL_KK: "nomor KK lengkap"}

#: One SMS part with a short office name and what was seen in a word or two; two parts at most.
NOTICE = ("{office}: data pribadi Anda di SLRT ({seen}) mungkin diakses pihak tak berhak pd {window}. "
          "Waspadai penipuan. Info: {reply_to}")
#: For a phone held for the resident (family, neighbour, RT/RW head): what was seen is not said.
NOTICE_PROXY = ("{office}: utk {first_name}: data pribadinya di SLRT mungkin diakses pihak tak berhak pd {window}. "
                "Mohon sampaikan. Info: {reply_to}")


@dataclass
class Exposure:
    """One resident whose data the account or address read: what, how, how often, and their notice."""

    resident_id: int
    times: int = 0
    actions: Counter = field(default_factory=Counter)
    record_types: set[str] = field(default_factory=set)
    first_at: datetime | None = None
    last_at: datetime | None = None
    resident: Resident | None = None
    notice: str = ""
    segments: int = 0

    @property
    def reachable(self) -> bool:
        """Whether the SMS notice can be sent: a phone, and SMS not refused."""
        return bool(self.resident is not None and self.resident.phone and not self.resident.is_sms_opted_out)


@dataclass
class Report:
    """The breach report of one account or address over [since, until] (local days, both included)."""

    staff: Staff | None
    address: str | None
    since: date
    until: date
    made_at: datetime
    #: Audit entries of reads in the window, and how many of each action.
    entries: int
    by_action: Counter
    exposures: list[Exposure]

    @property
    def residents(self) -> int:
        return len(self.exposures)

    @property
    def notify_by(self) -> datetime:
        """When the 3x24 hours end, counted from when the report was made."""
        return self.made_at + timedelta(hours=NOTICE_HOURS)

    def residents_by_action(self) -> Counter:
        """How many residents each action exposed."""
        counted: Counter = Counter()
        for exposure in self.exposures:
            counted.update(exposure.actions.keys())
        return counted


def _local_start(day: date) -> datetime:
    return datetime.combine(day, time(0), clock.local_zone()).astimezone(UTC)


def report(*, staff: Staff | None = None, address: str | None = None, since: date, until: date,
           batch: int = 5000) -> Report:
    """Every resident whose personal data ``staff`` (or anyone from ``address``) read or exported from
    local day ``since`` to ``until`` included, with what was seen and their SMS notice; oldest read first.

    Streams the log (bounded memory whatever the account did); reads the residents in batches.
    """
    if (staff is None) == (address is None):
        raise ValidationError(_l("Give either an account or an address."))
    if address is not None:
        try:
            address = audit.normal_address(address)
        except ValueError:
            raise ValidationError(_l("%(address)s is not an IP address.", address=address), field="address") from None
    for day, name in ((since, "since"), (until, "until")):
        if not audit_search.FIRST_DAY <= day <= audit_search.LAST_DAY:
            raise ValidationError(_l("%(day)s is outside the log's dates (from %(first)s).", day=day.isoformat(),
                                     first=audit_search.FIRST_DAY.isoformat()), field=name)
    if since > until:
        raise ValidationError(_l("The window ends before it begins."), field="until")
    query = (select(AuditEntry.at, AuditEntry.action, AuditEntry.record_type, AuditEntry.detail,
                    AuditEntry.resident_ids)
             .where(AuditEntry.action.in_(READS), AuditEntry.at >= _local_start(since),
                    AuditEntry.at < _local_start(until + timedelta(days=1)))
             .order_by(AuditEntry.at, AuditEntry.id).execution_options(yield_per=batch))
    query = query.where(AuditEntry.staff_id == staff.id if staff is not None else audit.from_address(address))
    found: dict[int, Exposure] = {}
    entries, by_action = 0, Counter()
    rows = db.session.execute(query)
    for at, action, record_type, detail, resident_ids in rows:
        entries += 1
        by_action[action] += 1
        kind = record_type or (detail or {}).get("type")
        at = clock.as_utc(at)
        for resident_id in resident_ids or ():
            exposure = found.get(resident_id)
            if exposure is None:
                exposure = found[resident_id] = Exposure(int(resident_id), first_at=at)
            exposure.times += 1
            exposure.actions[action] += 1
            if kind:
                exposure.record_types.add(kind)
            exposure.last_at = at
    rows.close()
    exposures = list(found.values())
    _notices(exposures, since, until)
    return Report(staff=staff, address=address, since=since, until=until, made_at=clock.now(), entries=entries,
                  by_action=by_action, exposures=exposures)


def _notices(exposures: list[Exposure], since: date, until: date, batch: int = 1000) -> None:
    office, reply_to = current_app.config["SLRT_SMS_SENDER_NAME"], outbox.help_number() or ""
    window = _window(since, until)
    it = iter(exposures)
    while chunk := list(itertools.islice(it, batch)):
        residents = {r.id: r for r in db.session.scalars(
            select(Resident).where(Resident.id.in_([e.resident_id for e in chunk])))}
        for exposure in chunk:
            exposure.resident = residents.get(exposure.resident_id)
            exposure.notice = notice(exposure, office=office, reply_to=reply_to, window=window)
            exposure.segments = _segments(exposure.notice)


@functools.lru_cache(maxsize=4096)
def _segments(text: str) -> int:
    return gsm.segments(text)[1]


def _window(since: date, until: date) -> str:
    def day(d: date, pattern: str = "d MMM yyyy") -> str:
        return format_date(d, pattern, locale="id")

    if since == until:
        return day(since)
    if (since.year, since.month) == (until.year, until.month):
        return f"{since.day}-{day(until)}"
    return f"{day(since)} s.d. {day(until)}"


def seen_words(exposure: Exposure) -> list[str]:
    """What the resident is told was seen, in Indonesian, most telling first."""
    words = [SEEN_BY_ACTION[a] for a in (AuditAction.REVEAL_NIK, AuditAction.REVEAL_KK) if exposure.actions[a]]
    words += [SEEN_WORDS[kind] for kind in SEEN_WORDS if kind in exposure.record_types]
    return words or [SEEN_WORDS["resident"]]


def notice(exposure: Exposure, *, office: str, reply_to: str, window: str) -> str:
    """The SMS notice for one resident: GSM-7, at most two parts; to a phone held for the resident, it
    names them by first name only and says nothing of what was seen."""
    resident = exposure.resident
    if resident is not None and resident.phone_owner != PhoneOwner.OWN:
        words = resident.name.split()
        return _notice_text(None, words[0] if words else "warga", office, reply_to, window)
    return _notice_text(tuple(seen_words(exposure)), None, office, reply_to, window)


@functools.lru_cache(maxsize=4096)  # a report of 50,000 residents has a few hundred different texts
def _notice_text(seen: tuple[str, ...] | None, first_name: str | None, office: str, reply_to: str,
                 window: str) -> str:
    if seen is None:
        text = gsm.normalize(NOTICE_PROXY.format(office=office, first_name=gsm.normalize(first_name),
                                                 window=window, reply_to=reply_to))
    else:
        words = list(seen)
        while True:  # fewer words until it fits (the reply number and the window must stay)
            text = gsm.normalize(NOTICE.format(office=office, seen=", ".join(words), window=window,
                                               reply_to=reply_to))
            if gsm.segments(text)[1] <= MAX_SEGMENTS or len(words) == 1:
                break
            words = words[:-1]
    if gsm.encoding_of(text) != SmsEncoding.GSM7:  # a name or office outside GSM-7: spell it plainly
        text = "".join(ch if not gsm.outside_gsm7(ch) else "?" for ch in text)
    return gsm.truncate(text, MAX_SEGMENTS)


# --- The operator's file -----------------------------------------------------------------------------------


def header() -> list[str]:
    return [str(h) for h in (
        _l("Resident id"), _l("NIK (masked)"), _l("Name"), _l("Phone"), _l("Phone owner"), _l("Refuses SMS"),
        _l("Times seen"), _l("How"), _l("What"), _l("First seen"), _l("Last seen"), _l("SMS notice"),
        _l("SMS parts"))]


def rows(made: Report) -> Iterator[list]:
    """One row per resident, in the order of :attr:`Report.exposures` (ids and counts as numbers)."""
    yes, no = str(_l("yes")), str(_l("no"))
    for exposure in made.exposures:
        resident = exposure.resident
        how = ", ".join(f"{action.label} {count}x" for action, count in
                        sorted(exposure.actions.items(), key=lambda item: READS.index(item[0])))
        what = ", ".join(audit_search.record_type_label(kind) for kind in sorted(exposure.record_types))
        if resident is None:  # gone from the database since (erased residents keep their id)
            person = [exposure.resident_id, "", str(_l("(no longer held)")), "", "", ""]
        else:
            person = [resident.id, resident.nik_masked, resident.name, resident.phone or "",
                      str(resident.phone_owner.label), yes if resident.is_sms_opted_out else no]
        yield [*person, exposure.times, how, what, clock.format_date(exposure.first_at, "minute"),
               clock.format_date(exposure.last_at, "minute"), exposure.notice, exposure.segments]


def write(made: Report, path: str) -> None:
    """The report's residents in the file at ``path``: XLSX for a name ending in .xlsx, else CSV (UTF-8, BOM)."""
    if str(path).lower().endswith(".xlsx"):
        xlsxout.write_rows(path, str(_l("Breach report")), header(), rows(made))
        return
    with open(path, "w", encoding="utf-8", newline="") as out:
        for line in csvout.lines(itertools.chain([header()], rows(made))):
            out.write(line)


def resident_ids(made: Report) -> Iterable[int]:
    return [exposure.resident_id for exposure in made.exposures]
