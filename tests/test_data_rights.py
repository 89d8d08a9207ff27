"""Residents' data rights (UU PDP 27/2022): subject export, erasure, retention of ended cases."""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime

import pytest
from sqlalchemy import JSON, Enum, String, Text, cast, func, select

from fakes.builders import make_case, make_nik, make_referral, make_resident
from fakes.dtsen import Village, people, write_csv
from slrt import audit, cases, clock, dtsen, erasure, followups, inbound, referrals, reports, residents, subject_access
from slrt.access import SYSTEM_ACTOR
from slrt.codes import format_code
from slrt.errors import PermissionDenied, ValidationError
from slrt.extensions import db
from slrt.models import AuditEntry, Base, Case, Household, Resident, ResidentImportError, SmsMessage
from slrt.models.enums import AuditAction, AuditActor, CaseStatus, FollowUpReason, Outcome, Role, SmsDirection
from slrt.pii import vault
from tasks.schedule import beat_schedule
from tests.conftest import JAKARTA
from tests.test_admin_matrix import signed_in

KK = "3316012005100007"


@dataclass
class Person:
    resident: Resident
    nik: str
    name: str
    phone: str
    case: Case
    referral_code: str


def _person(d, household, name: str, sex: str, birth: date, summary: str) -> Person:
    resident = make_resident(d, name=name, sex=sex, birth=birth, household=household)
    case = make_case(d, resident)
    case.summary = summary
    referral = make_referral(d, case)
    contact = d.agencies["bpjs"].contacts[0]
    referrals.accept(referral, actor=contact)
    inbound.receive(phone=resident.phone, body=f"CEK {case.ticket}", provider_id=f"p-{resident.id}",
                    gateway="console")
    notice = db.session.scalar(select(SmsMessage).where(SmsMessage.resident_id == resident.id,
                                                        SmsMessage.direction == SmsDirection.OUTBOUND).limit(1))
    # A provider's message may quote the number; the facilitator's note names the resident.
    follow_up = followups.open_for(notice, FollowUpReason.SMS_FAILED, f"21211 {resident.phone} is not valid")
    db.session.flush()
    followups.complete(follow_up, actor=d.user(Role.FACILITATOR, d.puskesos[0]), note=f"Dikunjungi, {name} ada")
    dtsen.propose(case, d.user(Role.FRONT_OFFICE, d.puskesos[0]), note=f"{name} belum masuk DTSEN")
    return Person(resident, resident.nik, name, resident.phone, case, referral.code)


def _close(d, person: Person) -> None:
    referral = person.case.referrals[0]
    referrals.complete(referral, actor=d.agencies["bpjs"].contacts[0], note=f"KIS {person.name} aktif")
    cases.close_case(person.case, outcome=Outcome.FULFILLED, actor=d.user(Role.SUPERVISOR),
                     note=f"Selesai, {person.name} sudah menerima KIS")


@pytest.fixture
def family(district, db_session):
    """Two residents of one KK, each with a case, a referral, SMS out and in; Siti's case closed."""
    household = residents.register_household(kk_number=KK, address="Dk. Krajan RT 03 RW 02",
                                             village=district.villages[0], actor=district.user(Role.FRONT_OFFICE))
    siti = _person(district, household, "Siti Wahyuningsih", "F", date(1980, 5, 17),
                   "Kartu KIS Siti Wahyuningsih mati <script>alert(1)</script>")
    budi = _person(district, household, "Budi Prasetyo", "M", date(1978, 3, 2), "Budi Prasetyo butuh bansos")
    _close(district, siti)
    db_session.commit()
    return siti, budi


def _unzip(data: bytes) -> tuple[dict, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["data.json", "ringkasan.html"]
        return json.loads(archive.read("data.json")), archive.read("ringkasan.html").decode()


def test_subject_export_holds_everything_about_the_resident_and_nothing_of_another(app, family, district,
                                                                                    db_session, tmp_path):
    siti, budi = family
    _refused_import_row(app, district, siti, tmp_path)
    data = subject_access.subject_export(siti.resident, district.user(Role.MANAGER))
    held, summary = _unzip(data)
    dump = json.dumps(held, ensure_ascii=False)
    assert held["resident"]["nik"] == siti.nik and held["resident"]["name"] == siti.name
    assert held["resident"]["phone"] == siti.phone
    assert held["household"]["kk_number"] == KK and held["household"]["address"] == "Dk. Krajan RT 03 RW 02"
    (case,) = held["cases"]
    assert case["ticket"] == format_code(siti.case.ticket) and case["status"] == "closed"
    assert case["referrals"][0]["code"] == siti.referral_code and case["referrals"][0]["completion_note"]
    assert [e["action"] for e in case["timeline"]][:2] == ["open", "refer"]
    (refused,) = held["dtsen_refused_rows"]
    assert siti.nik in refused["cells"] and "11" in refused["cells"]
    assert "Ani Lestari (BPJS Kesehatan Cabang Blora)" in [e["by"] for e in case["timeline"]]
    # Every row about her, table by table.
    case_row = db_session.get(Case, siti.case.id)
    assert len(case["timeline"]) == len(case_row.events) and len(case["referrals"]) == len(case_row.referrals)
    assert len(case["needs"]) == len(case_row.needs)
    assert len(held["sms"]) == db_session.scalar(select(func.count()).select_from(SmsMessage).where(
        (SmsMessage.resident_id == siti.resident.id) | (SmsMessage.case_id == siti.case.id)))
    (follow_up,) = held["follow_ups"]
    assert follow_up["note"] == "Dikunjungi, Siti Wahyuningsih ada" and follow_up["done_by"] == "jepon.facilitator"
    (proposal,) = held["dtsen_proposals"]
    assert proposal["note"] == "Siti Wahyuningsih belum masuk DTSEN"
    bodies = [m["body"] for m in held["sms"]]
    assert f"CEK {siti.case.ticket}" in bodies  # what she sent
    assert any(m["direction"] == "outbound" and m["phone"] == siti.phone for m in held["sms"])
    # Nothing of Budi: his name, NIK, phone, ticket, referral; no agency contact's phone either.
    for other in (budi.name, budi.nik, budi.phone, budi.case.ticket, format_code(budi.case.ticket), budi.referral_code,
                  district.agencies["bpjs"].contacts[0].phone):
        assert other not in dump and other not in summary
    # The summary: Indonesian, escaped, no script.
    assert "Data pribadi" in summary and siti.name in summary and siti.nik in summary
    assert "<script" not in summary and "&lt;script&gt;" in summary
    assert subject_access.filename(siti.resident) == f"data-warga-{siti.resident.id}-20261124.zip"


def test_only_a_manager_exports_or_erases(family, district, db_session):
    siti, _budi = family
    for role in (Role.SUPERVISOR, Role.FRONT_OFFICE):
        with pytest.raises(PermissionDenied):
            subject_access.subject_export(siti.resident, district.user(role))
        with pytest.raises(PermissionDenied):
            erasure.erase_resident(siti.resident, reason="permintaan", actor=district.user(role))
    # A manager of another village's post does not reach her either.
    other_post = district.user(Role.MANAGER, district.puskesos[1])
    with pytest.raises(PermissionDenied):
        subject_access.subject_export(siti.resident, other_post)


def test_erasure_is_refused_with_an_open_case_or_without_a_reason(family, district, db_session):
    siti, budi = family
    manager = district.user(Role.MANAGER)
    with pytest.raises(ValidationError, match="masih punya kasus terbuka"):
        erasure.erase_resident(budi.resident, reason="permintaan tertulis", actor=manager)
    with pytest.raises(ValidationError, match="alasan"):
        erasure.erase_resident(siti.resident, reason="  ", actor=manager)
    for odd in ("x" * 501, "permintaan\x00"):
        with pytest.raises(ValidationError) as refused:
            erasure.erase_resident(siti.resident, reason=odd, actor=manager)
        assert refused.value.field == "reason"
    assert not erasure.is_erased(budi.resident) and not erasure.is_erased(siti.resident)


def _text_columns():
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            # Text that may hold a value; not the codes of an enum ("transition" is not "Siti").
            if isinstance(column.type, String | Text | JSON) and not isinstance(column.type, Enum):
                yield table, column


def personal_values_left(needles: list[str]) -> list[str]:
    """Every (table.column) holding one of ``needles``, decrypting the encrypted columns."""
    found = []
    for table, column in _text_columns():
        if column.name.endswith("_encrypted"):
            for token in db.session.scalars(select(column)):
                plain = vault.decrypt(token).lower()
                found += [f"{table.name}.{column.name}: {n}" for n in needles if n.lower() in plain]
            continue
        for needle in needles:
            hit = db.session.scalar(select(column).where(cast(column, Text).ilike(f"%{needle}%")).limit(1))
            if hit is not None:
                found.append(f"{table.name}.{column.name}: {needle}")
    return found


def _report_figures():
    report = reports.monthly_report(reports.Period.of_month(2026, 11), None)
    return [(line.section, line.name, line.figures.cases, line.figures.referred, line.figures.completed,
             line.figures.waiting) for line in report.lines], reports.headline(None), _messages_counted()


def _messages_counted() -> int:
    """Every SMS row (a message still waiting for a resident erased is dropped, not removed)."""
    totals = reports.sms_totals(None)
    return sum(count for status, count in totals.items() if status not in ("segments", "sent"))


def _needles(person: Person) -> list[str]:
    """The resident's NIK, its lookup hash, full name, each word of it, and phone (any prefix)."""
    return [person.nik, vault.lookup_hash("nik", person.nik), person.name, *person.name.split(), person.phone[3:]]


def _refused_import_row(app, district, person: Person, tmp_path) -> None:
    """A DTSEN import whose one row, about ``person``, is refused (desil 11): kept encrypted with the run."""
    villages = [Village(code=v.code, name=v.name, district="Jepon") for v in district.villages]
    row = next(iter(people(villages, 1)))
    row.update(nomor_kk=KK, nomor_nik=person.nik, nama=person.name, no_hp="0" + person.phone[3:], desil="11")
    write_csv(tmp_path / "dtsen.csv", [row])
    result = app.test_cli_runner().invoke(args=["slrt", "import-residents", str(tmp_path / "dtsen.csv")])
    assert result.exit_code == 2, result.output  # the row refused
    assert db.session.scalar(select(func.count()).select_from(ResidentImportError)) == 1


def test_erasure_leaves_no_personal_value_in_any_table_and_keeps_report_counts(app, family, district, db_session,
                                                                                tmp_path):
    siti, budi = family
    _refused_import_row(app, district, siti, tmp_path)
    before = _report_figures()
    held = personal_values_left(_needles(siti))  # the scan finds what is there, encrypted cells too
    assert "resident_import_error.cells_encrypted: " + siti.nik in held and "sms_message.body: Siti" in held
    # A reason naming her (a manager copies the letter's heading): the log keeps it without her name or numbers.
    erasure.erase_resident(siti.resident, actor=district.user(Role.MANAGER),
                           reason=f"Permintaan tertulis SITI wahyuningsih, NIK {siti.nik}, HP {siti.phone}, 20-11-2026")
    db_session.commit()
    assert personal_values_left(_needles(siti)) == []  # the audit log's tables included
    erased = db_session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.ERASE)).one()
    assert erased.detail["reason"].startswith("Permintaan tertulis (nama warga), NIK 3316")
    assert residents.find_by_nik(siti.nik) is None
    assert residents.named("wahyuningsih") is None or not db_session.scalars(residents.named("wahyuningsih")).all()
    # Budi and the family card stay (he is still a member).
    assert personal_values_left(_needles(budi)) != [] and residents.find_household_by_kk(KK) is not None
    after = _report_figures()
    assert after == before
    row = db_session.get(Resident, siti.resident.id)
    assert row.name == erasure.ERASED and row.birth_date == date(1980, 1, 1) and row.village_id is not None
    assert db_session.get(Case, siti.case.id).status == CaseStatus.CLOSED

    # Budi's case cancelled, his erasure takes the KK too: no member remains.
    cases.cancel_case(budi.case, reason="Duplikat", actor=district.user(Role.SUPERVISOR))
    erasure.erase_resident(budi.resident, reason="Permintaan tertulis", actor=SYSTEM_ACTOR)
    db_session.commit()
    assert personal_values_left([*_needles(budi), KK, "Krajan", vault.lookup_hash("kk", KK)]) == []
    assert residents.find_household_by_kk(KK) is None
    household = db_session.get(Household, budi.resident.household_id)
    assert household is not None and household.village_id == district.villages[0].id


def test_cli_subject_export_and_erase(app, family, district, db_session, tmp_path):
    siti, budi = family
    runner = app.test_cli_runner()
    out = tmp_path / "siti.zip"
    result = runner.invoke(args=["slrt", "subject-export", siti.nik, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert siti.nik not in result.output and siti.resident.nik_masked in result.output
    held, _summary = _unzip(out.read_bytes())
    assert held["resident"]["nik"] == siti.nik
    assert out.stat().st_mode & 0o777 == 0o600  # a resident's whole file: for the operator's eyes only
    # A folder that is not there: said before anything is made or logged.
    logged = db_session.scalar(select(func.count()).select_from(AuditEntry))
    result = runner.invoke(args=["slrt", "subject-export", siti.nik, "--out", str(tmp_path / "no" / "x.zip")])
    assert result.exit_code == 1 and "tidak ada" in result.output and "Traceback" not in result.output
    assert db_session.scalar(select(func.count()).select_from(AuditEntry)) == logged
    # The NIK left out of the command line (shell history, ps) is asked for, not echoed.
    typed = tmp_path / "typed.zip"
    result = runner.invoke(args=["slrt", "subject-export", "--out", str(typed)], input=f"{siti.nik}\n")
    assert result.exit_code == 0, result.output
    assert siti.nik not in result.output and typed.stat().st_mode & 0o777 == 0o600

    refused = runner.invoke(args=["slrt", "erase-resident", budi.nik, "--reason", "permintaan", "--yes"])
    assert refused.exit_code == 1 and "kasus terbuka" in refused.output and budi.nik not in refused.output
    result = runner.invoke(args=["slrt", "erase-resident", siti.nik, "--reason", "permintaan", "--yes"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["slrt", "subject-export", siti.nik]).exit_code == 1  # the NIK finds nobody now


def test_retention_anonymizes_cases_ended_years_ago(app, district, db_session, frozen):
    old = make_resident(district, name="Sumarni Lama")
    old_case = make_case(district, old)
    cases.cancel_case(old_case, reason="Sumarni pindah", actor=district.user(Role.SUPERVISOR))
    busy = make_resident(district, name="Karsono Baru")
    busy_first = make_case(district, busy)
    cases.cancel_case(busy_first, reason="Karsono dobel", actor=district.user(Role.SUPERVISOR))
    db_session.commit()
    frozen.move_to(datetime(2029, 6, 1, 10, 0, tzinfo=JAKARTA))
    busy_later = make_case(district, busy)  # a newer case: Karsono keeps his data
    cases.cancel_case(busy_later, reason="Karsono batal", actor=district.user(Role.SUPERVISOR))
    db_session.commit()

    task = app.extensions["celery"].tasks["slrt.retire_closed_cases"]
    frozen.move_to(datetime(2031, 11, 23, 10, 0, tzinfo=JAKARTA))  # not yet five years
    assert task.apply().get() == {"cases": 0, "residents": 0}
    frozen.move_to(datetime(2031, 11, 25, 10, 0, tzinfo=JAKARTA))
    assert task.apply().get() == {"cases": 2, "residents": 1}
    assert db_session.get(Case, old_case.id).summary == erasure.ERASED
    assert db_session.get(Case, old_case.id).outcome_note == erasure.ERASED
    assert erasure.is_erased(db_session.get(Resident, old.id))
    karsono = db_session.get(Resident, busy.id)
    assert not erasure.is_erased(karsono) and karsono.name == "Karsono Baru"
    assert db_session.get(Case, busy_later.id).summary != erasure.ERASED
    assert task.apply().get() == {"cases": 0, "residents": 0}  # done once
    assert clock.now().year == 2031


def test_screens_export_and_erase_for_managers_only(app, family, district, db_session):
    siti, budi = family
    url = f"/admin/resident/{siti.resident.id}"
    supervisor = signed_in(app, district, Role.SUPERVISOR)
    page = supervisor.get(f"/admin/resident/details/?id={siti.resident.id}")
    assert page.status_code == 200 and "subject-export" not in page.get_data(as_text=True)
    assert supervisor.post(f"{url}/subject-export").status_code == 403
    assert supervisor.post(f"{url}/erase", {"reason": "x", "confirmed": "1"}).status_code == 403

    manager = signed_in(app, district, Role.MANAGER)
    page = manager.get(f"/admin/resident/details/?id={siti.resident.id}")
    assert "subject-export" in page.get_data(as_text=True)
    assert manager.post(f"{url}/subject-export", token=False).status_code == 400  # CSRF
    download = manager.post(f"{url}/subject-export")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert siti.nik not in download.headers["Content-Disposition"]
    assert _unzip(download.data)[0]["resident"]["nik"] == siti.nik

    refused = manager.post(f"/admin/resident/{budi.resident.id}/erase", {"reason": "permintaan"})
    assert refused.status_code == 302
    assert "kasus terbuka" in manager.get(refused.headers["Location"]).get_data(as_text=True)
    no_reason = manager.post(f"{url}/erase", {"reason": ""})
    assert no_reason.status_code == 302 and not erasure.is_erased(db_session.get(Resident, siti.resident.id))
    confirm = manager.post(f"{url}/erase", {"reason": "Permintaan tertulis 20-11-2026"})
    assert confirm.status_code == 200 and "Ya, hapus data" in confirm.get_data(as_text=True)
    done = manager.post(f"{url}/erase", {"reason": "Permintaan tertulis 20-11-2026", "confirmed": "1"})
    assert done.status_code == 302
    db_session.expire_all()
    assert erasure.is_erased(db_session.get(Resident, siti.resident.id))
    after = manager.get(done.headers["Location"]).get_data(as_text=True)
    assert "Data pribadi warga sudah dihapus" in after and siti.name not in after and siti.nik not in after
    assert "17-05-1980" not in after and "01-01-1980" not in after  # the year kept, alone
    assert re.search(r"Tanggal lahir</b>\s*</td>\s*<td>\s*1980\s*</td>", after)
    # nothing left to reveal: no "Tampilkan NIK", and the action answers 404 without an entry
    assert 'name="what" value="nik"' not in after
    entries = db_session.scalar(select(func.count()).select_from(AuditEntry))
    assert manager.post(f"/admin/resident/reveal/?id={siti.resident.id}", {"what": "nik"}).status_code == 404
    assert db_session.scalar(select(func.count()).select_from(AuditEntry)) == entries
    listed = manager.get("/admin/resident/").get_data(as_text=True)
    assert erasure.ERASED in listed and siti.name not in listed
    for odd in ("/admin/resident/999999/erase", "/admin/resident/abc/erase", f"{url}/subject-export?x=%00"):
        assert manager.post(odd, {"reason": "x"}).status_code in (302, 400, 404, 405)
    assert manager.get(f"{url}/erase").status_code == 405


def test_the_beat_runs_retention_daily(app):
    assert beat_schedule(app.config)["retire-closed-cases"] == {"task": "slrt.retire_closed_cases",
                                                                "schedule": 86400.0}


def test_erased_inbound_texts_from_an_unknown_phone_too(family, district, db_session):
    siti, _budi = family
    stray = SmsMessage(direction=SmsDirection.INBOUND, audience="resident", phone=siti.phone, body="halo ini Siti",
                       encoding="gsm7", segments=1, status="received")
    db_session.add(stray)
    db_session.flush()
    erasure.erase_resident(siti.resident, reason="permintaan", actor=SYSTEM_ACTOR)
    db_session.flush()
    db_session.refresh(stray)
    assert stray.body is None and stray.phone == erasure.ERASED
    assert make_nik()  # builders still usable after an erasure


# ---- the audit log ------------------------------------------------------------------------------------

def _entries_after(last_id: int) -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id)))


def _last_entry_id() -> int:
    return db.session.scalar(select(func.max(AuditEntry.id))) or 0


def test_export_and_erasure_each_write_one_audit_entry_with_the_fact_and_reason(family, district, db_session):
    siti, _budi = family
    manager = district.user(Role.MANAGER)
    start = _last_entry_id()
    subject_access.subject_export(siti.resident, manager)
    erasure.erase_resident(siti.resident, reason="Surat permintaan 20-11-2026", actor=manager)
    db_session.commit()
    exported, erased = _entries_after(start)
    for entry, action in ((exported, AuditAction.SUBJECT_EXPORT), (erased, AuditAction.ERASE)):
        assert (entry.action, entry.actor_kind, entry.staff_id, entry.actor_label) == (
            action, AuditActor.STAFF, manager.id, manager.username)
        assert (entry.record_type, entry.record_id, list(entry.resident_ids)) == (
            "resident", siti.resident.id, [siti.resident.id])
    assert erased.detail == {"reason": "Surat permintaan 20-11-2026", "cases": 1, "messages": erased.detail["messages"],
                             "import_rows": 0, "household_erased": False}
    assert erased.detail["messages"] >= 4
    assert audit.verify().ok


def test_the_export_holds_the_processing_history_of_the_resident_only(app, family, district, db_session):
    siti, budi = family
    supervisor = signed_in(app, district, Role.SUPERVISOR)
    assert supervisor.get(f"/admin/resident/details/?id={siti.resident.id}").status_code == 200
    assert supervisor.get(f"/admin/resident/details/?id={budi.resident.id}").status_code == 200
    manager = signed_in(app, district, Role.MANAGER)
    download = manager.post(f"/admin/resident/{siti.resident.id}/subject-export")
    held, summary = _unzip(download.data)
    history = held["processing"]
    seen = [(p["who"], p["action"], p["record_type"], p["record_id"]) for p in history]
    assert (district.user(Role.SUPERVISOR).username, "view", "resident", siti.resident.id) in seen
    assert seen[-1] == (district.user(Role.MANAGER).username, "subject_export", "resident", siti.resident.id)
    # Budi's page lists his family, Siti among them: that view is in her history too.
    assert ("view", "resident", budi.resident.id) in [s[1:] for s in seen]
    assert all("ip" not in p and "resident_ids" not in p for p in history)
    assert "Siapa yang melihat atau mengubah data Anda" in summary
    assert district.user(Role.SUPERVISOR).username in summary
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == AuditAction.SUBJECT_EXPORT))
    assert entry.ip == "127.0.0.1" and entry.staff_id == district.user(Role.MANAGER).id


def test_cli_export_and_erasure_are_the_operators_in_the_audit_log(app, family, district, db_session, tmp_path):
    siti, _budi = family
    start = _last_entry_id()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["slrt", "subject-export", siti.nik, "--out", str(tmp_path / "x.zip")]).exit_code == 0
    assert runner.invoke(args=["slrt", "erase-resident", siti.nik, "--reason", "surat", "--yes"]).exit_code == 0
    entries = _entries_after(start)
    assert [(e.action, e.actor_kind) for e in entries] == [(AuditAction.SUBJECT_EXPORT, AuditActor.CLI),
                                                          (AuditAction.ERASE, AuditActor.CLI)]
    assert "@" in entries[0].actor_label and siti.nik not in json.dumps(entries[1].detail)


def test_each_retention_run_is_one_audit_entry(app, district, db_session, frozen):
    resident = make_resident(district, name="Sumarni Lama")
    case = make_case(district, resident)
    cases.cancel_case(case, reason="pindah", actor=district.user(Role.SUPERVISOR))
    db_session.commit()
    frozen.move_to(datetime(2031, 11, 25, 10, 0, tzinfo=JAKARTA))
    start = _last_entry_id()
    app.extensions["celery"].tasks["slrt.retire_closed_cases"].apply()
    (entry,) = _entries_after(start)
    assert (entry.action, entry.actor_kind, entry.rows, list(entry.resident_ids)) == (
        AuditAction.RETENTION, AuditActor.SYSTEM, 1, [resident.id])
    assert entry.detail["cases"] == 1 and entry.detail["residents_erased"] == 1
    assert entry.detail["cutoff"].startswith("2026-11-25")


def test_retention_leaves_nothing_of_a_closed_case_and_its_resident(app, family, district, db_session, frozen):
    siti, budi = family
    before = _report_figures()
    frozen.move_to(datetime(2031, 11, 25, 10, 0, tzinfo=JAKARTA))
    assert app.extensions["celery"].tasks["slrt.retire_closed_cases"].apply().get() == {"cases": 1, "residents": 1}
    assert personal_values_left(_needles(siti)) == []
    assert db_session.get(Case, budi.case.id).summary == "Budi Prasetyo butuh bansos"  # his case is open
    frozen.move_to(datetime(2026, 11, 24, 10, 0, tzinfo=JAKARTA))
    assert _report_figures() == before  # November 2026 as it was reported


def test_a_reason_keeps_no_nik_kk_or_phone_number(app):
    """The audit log keeps an erasure's or a full export's reason for good: the numbers in it are masked."""
    reason = erasure.clean_reason("Permintaan warga NIK 3316 0120 0510 0007, HP +62 812-3456-7890, "
                                  "surat 470/12/2026 tanggal 20-11-2026")
    compact = reason.replace(" ", "").replace("-", "")
    assert "3316012005100007" not in compact and "81234567890" not in compact
    assert "3316********0007" in reason and "*******7890" in reason
    assert "470/12/2026" in reason and "20-11-2026" in reason  # a letter's number and a date stay


def test_a_residents_page_logs_the_family_it_shows(app, family, district, db_session):
    siti, budi = family
    supervisor = signed_in(app, district, Role.SUPERVISOR)
    start = _last_entry_id()
    assert supervisor.get(f"/admin/resident/details/?id={budi.resident.id}").status_code == 200
    [entry] = _entries_after(start)
    assert (entry.action, entry.record_id) == (AuditAction.VIEW, budi.resident.id)
    assert set(entry.resident_ids) == {siti.resident.id, budi.resident.id}  # Siti is in his family's table
    start = _last_entry_id()
    assert supervisor.get(f"/admin/resident/edit/?id={budi.resident.id}").status_code == 200
    [entry] = _entries_after(start)
    assert entry.resident_ids == [budi.resident.id]  # the edit form shows him alone
