"""Small builders for test data; they go through the real domain functions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from itertools import count

from slrt import cases, referrals, residents, staff
from slrt.access import SYSTEM_ACTOR
from slrt.extensions import db
from slrt.models import (
    Agency,
    AgencyContact,
    Document,
    Region,
    Resident,
    Service,
    Staff,
    Unit,
    service_document,
)
from slrt.models.enums import AgencyKind, AgencyLevel, Domain, PhoneOwner, RegionLevel, Role, UnitKind

_serial = count(1)


@dataclass
class District:
    regency: Region
    villages: list[Region]
    secretariat: Unit
    puskesos: list[Unit]
    #: staff[unit name][role] -> Staff
    staff: dict[str, dict[Role, Staff]] = field(default_factory=dict)
    agencies: dict[str, Agency] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)

    def user(self, role: Role | str, unit: Unit | None = None) -> Staff:
        return self.staff[(unit or self.secretariat).name][Role(role)]


def make_district() -> District:
    """A regency with a secretariat, two Puskesos, staff of every role, agencies and services."""
    province = Region(code="33", name="Jawa Tengah", level=RegionLevel.PROVINCE)
    regency = Region(code="33.16", name="Blora", level=RegionLevel.REGENCY, parent=province)
    kecamatan = Region(code="33.16.01", name="Jepon", level=RegionLevel.DISTRICT, parent=regency)
    villages = [
        Region(code="33.16.01.2001", name="Jepon", level=RegionLevel.VILLAGE, parent=kecamatan),
        Region(code="33.16.01.2002", name="Palon", level=RegionLevel.VILLAGE, parent=kecamatan),
    ]
    secretariat = Unit(name="Sekretariat SLRT Blora", kind=UnitKind.SECRETARIAT, region=regency,
                       phone="(0296) 531234")
    puskesos = [
        Unit(name=f"Puskesos {v.name}", kind=UnitKind.PUSKESOS, region=v, parent=secretariat) for v in villages
    ]
    db.session.add_all([province, regency, kecamatan, *villages, secretariat, *puskesos])
    db.session.flush()
    d = District(regency=regency, villages=villages, secretariat=secretariat, puskesos=puskesos)
    for unit in (secretariat, *puskesos):
        slug = "sek" if unit is secretariat else unit.region.name.lower()
        d.staff[unit.name] = {
            role: staff.create_staff(username=f"{slug}.{role.value}",
                                     full_name=f"Petugas {role.value.replace('_', ' ').title()}",
                                     role=role, unit=unit, password="rahasia-demo-1", actor=SYSTEM_ACTOR)
            for role in Role
        }

    documents = {
        code: Document(code=code, name=name, sms_name=short)
        for code, name, short in [
            ("sktm", "Surat Keterangan Tidak Mampu", "SKTM"),
            ("kk", "Fotokopi Kartu Keluarga", "fc KK"),
            ("ktp", "Fotokopi KTP/KIA", "fc KTP"),
            ("map", "Map plastik", "map"),
        ]
    }
    db.session.add_all(documents.values())
    bpjs = Agency(name="BPJS Kesehatan Cabang Blora", short_name="BPJS Blora", kind=AgencyKind.BPJS,
                  level=AgencyLevel.DISTRICT, address="Jl. Pemuda 21 Blora")
    bpjs.contacts = [
        AgencyContact(name="Ani Lestari", phone="+6281225550101"),
        AgencyContact(name="Bambang Head", phone="+6281225550102", is_head=True),
        AgencyContact(name="Citra Nonaktif", phone="+6281225550103", is_active=False),
    ]
    baznas = Agency(name="Baznas Kabupaten Blora", short_name="Baznas", kind=AgencyKind.BAZNAS,
                    level=AgencyLevel.DISTRICT, address="Jl. Gatot Subroto 5 Blora")
    baznas.contacts = [AgencyContact(name="Dewi Baznas", phone="+6285725550201")]
    db.session.add_all([bpjs, baznas])
    d.agencies = {"bpjs": bpjs, "baznas": baznas}
    d.services = {
        "bpjs_pbi": Service(code="bpjs_pbi", name="Aktivasi BPJS PBI (KIS)", short_name="Aktivasi BPJS PBI",
                            domain=Domain.HEALTH, default_agency=bpjs, sla_days=5),
        "bansos": Service(code="bansos", name="Bantuan sosial", short_name="Bantuan sosial",
                          domain=Domain.SOCIAL, default_agency=baznas, sla_days=10),
    }
    db.session.add_all(d.services.values())
    db.session.flush()
    for position, code in enumerate(["sktm", "kk", "ktp", "map"]):
        db.session.execute(service_document.insert().values(
            service_id=d.services["bpjs_pbi"].id, document_id=documents[code].id, position=position))
    db.session.execute(service_document.insert().values(
        service_id=d.services["bansos"].id, document_id=documents["sktm"].id, position=0))
    db.session.flush()
    db.session.expire(d.services["bpjs_pbi"], ["documents"])
    db.session.expire(d.services["bansos"], ["documents"])
    return d


def make_nik(sex: str = "F", birth: date = date(1980, 5, 17), region: str = "331601") -> str:
    day = birth.day + (40 if sex == "F" else 0)
    return f"{region}{day:02d}{birth.month:02d}{birth.year % 100:02d}{next(_serial):04d}"


def make_phone() -> str:
    return f"0812{next(_serial) + 30000000:08d}"


def make_resident(d: District, *, sex: str = "F", birth: date = date(1980, 5, 17), village: Region | None = None,
                  phone: str | None = "auto", phone_owner: PhoneOwner = PhoneOwner.OWN, name: str = "Siti Aminah",
                  **kwargs) -> Resident:
    return residents.register_resident(
        nik=make_nik(sex, birth), name=name, sex=sex, birth_date=birth,
        village=village or d.villages[0], address="RT 02 RW 01", actor=d.user(Role.FRONT_OFFICE),
        phone=make_phone() if phone == "auto" else phone, phone_owner=phone_owner,
        phone_owner_name=None if phone_owner == PhoneOwner.OWN else "Pak RT Sutrisno", **kwargs,
    )


def make_case(d: District, resident: Resident | None = None, *, unit: Unit | None = None,
              services: list[str] = ("bpjs_pbi",), actor: Staff | None = None):
    unit = unit or d.puskesos[0]
    return cases.open_case(
        resident=resident or make_resident(d), unit=unit, channel="walk_in",
        summary="Kartu KIS tidak aktif saat berobat", needs=[d.services[s] for s in services],
        actor=actor or d.user(Role.FRONT_OFFICE, unit),
    )


def make_referral(d: District, case=None, *, service: str = "bpjs_pbi", actor: Staff | None = None, **kwargs):
    case = case or make_case(d, services=[service])
    return referrals.refer(case, service=d.services[service], actor=actor or d.user(Role.BACK_OFFICE), **kwargs)
