"""The official region list, setting a regency up from it, Puskesos posts over villages, and the
territory screens (slrt.regions, slrt.units, admin_views/regions.py)."""

from __future__ import annotations

import gzip
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from fakes.builders import make_case, make_resident
from slrt import cases as case_ops
from slrt import regions, units
from slrt import staff as staff_ops
from slrt.access import SYSTEM_ACTOR, covered_village_ids, in_scope
from slrt.errors import PermissionDenied, ValidationError
from slrt.extensions import db
from slrt.models import Case, Region, Resident, Service, Staff, Unit
from slrt.models.enums import RegionLevel, Role, UnitKind, VillageKind
from slrt.residents import register_resident
from tests.test_admin_matrix import signed_in

FO, SU, MA = Role.FRONT_OFFICE, Role.SUPERVISOR, Role.MANAGER
BORN = date(1980, 5, 17)

#: A small list in the official shape: two regencies of one province, another province.
SMALL = """kode,nama
33,Jawa Tengah
33.16,Kabupaten Blora
33.16.01,Jati
33.16.01.2001,Doplang
33.16.01.2003,Kepoh
33.16.02,Randublatung
33.16.02.1001,Randublatung
33.16.02.2002,Ngliron
33.17,Kabupaten Rembang
33.17.01,Sumber
33.17.01.2001,Sumber
34,DI Yogyakarta
34.71,Kota Yogyakarta
"""


def write_list(path, text: str):
    with gzip.open(path, "wt", encoding="utf-8", newline="") as out:
        out.write(text)
    return path


@pytest.fixture
def small_list(tmp_path):
    return write_list(tmp_path / "wilayah.csv.gz", SMALL)


@pytest.fixture
def runner(app, db_session):
    return app.test_cli_runner()


def region(code: str) -> Region | None:
    return db.session.scalar(select(Region).where(Region.code == code))


def count(db_session, *conditions) -> int:
    return db_session.scalar(select(func.count()).select_from(Region).where(*conditions))


# ------------------------------------------------------------------------- reading the list

@pytest.mark.parametrize(("code", "level", "kind"), [
    ("33", RegionLevel.PROVINCE, None), ("33.16", RegionLevel.REGENCY, None), ("33.16.01", RegionLevel.DISTRICT, None),
    ("33.16.01.2003", RegionLevel.VILLAGE, VillageKind.RURAL), ("33.16.02.1001", RegionLevel.VILLAGE,
                                                                VillageKind.URBAN),
    ("91.03.01.3007", RegionLevel.VILLAGE, VillageKind.CUSTOMARY), ("33.1", None, None), ("abc", None, None),
])
def test_a_codes_level_and_kind_come_from_its_shape(code, level, kind):
    assert regions.level_of(code) == level
    assert regions.village_kind(code) == kind


def test_the_shipped_list_has_its_licence_beside_it():
    notice = (regions.OFFICIAL_LIST.parent / "NOTICE").read_text()
    assert "copyright (c) 2025 by cahya dsn" in notice and "MIT License" in notice


# ------------------------------------------------------------------------- one regency

def test_setup_district_loads_the_regency_its_province_a_secretariat_and_the_catalogue(db_session, small_list):
    done = regions.setup_district("33.16", secretariat=None, address="Jl. Pemuda 16", phone="(0296) 531234",
                                  path=small_list)
    assert done.regions.added == 2 + 2 + 4  # province, regency, 2 districts, 4 villages: not Rembang nor DIY
    assert region("33.17") is None and region("34") is None
    kepoh = region("33.16.01.2003")
    assert (kepoh.name, kepoh.level, kepoh.village_kind, kepoh.is_active) == (
        "Kepoh", RegionLevel.VILLAGE, VillageKind.RURAL, True)
    assert kepoh.parent.code == "33.16.01" and kepoh.parent.parent.name == "Kabupaten Blora"
    assert region("33.16").parent.name == "Jawa Tengah"
    assert region("33.16.02.1001").village_kind == VillageKind.URBAN
    secretariat = done.secretariat
    assert (secretariat.name, secretariat.kind, secretariat.region.code, secretariat.address, secretariat.phone) == (
        "Sekretariat SLRT Kabupaten Blora", UnitKind.SECRETARIAT, "33.16", "Jl. Pemuda 16", "(0296) 531234")
    assert done.catalogue.services == 11 and done.catalogue.documents == 15
    service = db_session.scalar(select(Service).where(Service.code == "BPJS_PBI_AKTIVASI"))
    assert service.card_colour == "blue" and service.sla_days == 10
    assert [d.code for d in service.documents] == ["SKTM", "FC_KK", "FC_KTP", "FC_AKTA", "MAP"]
    assert (service.reminder_first_days, service.reminder_every_days, service.reminder_max) == (3, 2, 3)

    again = regions.setup_district("33.16", path=small_list)
    assert (again.regions.added, again.regions.unchanged, again.secretariat_created) == (0, 8, False)
    assert again.secretariat.id == secretariat.id and again.catalogue.services == 0
    assert db_session.scalar(select(func.count()).select_from(Unit)) == 1
    assert db_session.scalar(select(func.count()).select_from(Service)) == 11


def test_a_rerun_with_a_new_list_adds_renames_and_deactivates_but_never_deletes(app, db_session, tmp_path,
                                                                                   small_list):
    regions.setup_district("33.16", path=small_list)
    secretariat = db_session.scalar(select(Unit))
    manager = staff_ops.create_staff(username="kepala", full_name="Kepala Dinas", role=MA, unit=secretariat,
                                     password="rahasia-demo-1", actor=SYSTEM_ACTOR)
    doplang, ngliron = region("33.16.01.2001"), region("33.16.02.2002")
    resident = register_resident(nik="3316015705800001", name="Siti Aminah", sex="F", birth_date=BORN,
                                 village=ngliron, address="RT 1 RW 2", actor=manager)
    changed = (SMALL.replace("33.16.01.2003,Kepoh", "33.16.01.2003,Kepoh Baru")
               .replace("33.16.01.2001,Doplang\n", "")            # vanished, nobody lives there
               .replace("33.16.02.2002,Ngliron\n", "")            # vanished, a resident lives there
               .replace("33.16.02.1001,Randublatung", "33.16.02.1001,Randublatung\n33.16.02.2009,Kalisari"))
    done = regions.setup_district("33.16", path=write_list(tmp_path / "new.csv.gz", changed))
    r = done.regions
    assert (r.added, r.renamed, r.deactivated, r.reactivated, r.unchanged) == (1, 1, 2, 0, 5)
    assert region("33.16.01.2003").name == "Kepoh Baru"
    assert region("33.16.02.2009").parent.code == "33.16.02"
    assert region("33.16.01.2001").id == doplang.id and not region("33.16.01.2001").is_active
    assert not region("33.16.02.2002").is_active
    assert db_session.get(Resident, resident.id).village.code == "33.16.02.2002"

    back = regions.setup_district("33.16", path=small_list).regions
    assert (back.added, back.renamed, back.deactivated, back.reactivated) == (0, 1, 1, 2)
    assert region("33.16.01.2001").is_active and not region("33.16.02.2009").is_active


@pytest.mark.parametrize("code", ["33", "33.16.01", "33.16.01.2003", "abc", "3316", " ", "99.99", "34.99"])
def test_setup_district_refuses_a_code_that_is_not_a_regency_and_changes_nothing(runner, db_session, code):
    result = runner.invoke(args=["slrt", "setup-district", code])
    assert result.exit_code == 1
    assert re.search(r"bukan kode kabupaten/kota|tidak ada kabupaten/kota", result.output, re.I), result.output
    assert count(db_session) == 0
    assert db_session.scalar(select(func.count()).select_from(Unit)) == 0


def test_setup_district_blora_from_the_official_list(runner, db_session):
    result = runner.invoke(args=["slrt", "setup-district", "33.16", "--phone", "(0296) 531234"])
    assert result.exit_code == 0, result.output
    print(result.output)  # the figures, with the time it took
    assert "Kabupaten Blora (33.16): 16 kecamatan, 295 desa/kelurahan" in result.output
    assert "313 ditambahkan" in result.output and "Sekretariat SLRT Kabupaten Blora (dibuat)" in result.output
    assert count(db_session, Region.level == RegionLevel.DISTRICT, Region.code.startswith("33.16.")) == 16
    assert count(db_session, Region.level == RegionLevel.VILLAGE, Region.code.startswith("33.16.")) == 295
    assert count(db_session, Region.parent_id.is_(None)) == 1
    kepoh = region("33.16.01.2003")
    assert (kepoh.name, kepoh.parent.name) == ("Kepoh", "Jati")
    again = runner.invoke(args=["slrt", "setup-district", "33.16"])
    assert "0 ditambahkan, 0 diganti namanya, 0 dinonaktifkan, 0 aktif kembali, 313 tetap" in again.output


@pytest.mark.slow  # some 5 s on SQLite (figures printed by the CLI)
def test_the_whole_national_list_loads_with_the_counts_of_the_file(runner, db_session):
    result = runner.invoke(args=["slrt", "load-regions"])
    assert result.exit_code == 0, result.output
    print(result.output)
    for level, number in ((RegionLevel.PROVINCE, 38), (RegionLevel.REGENCY, 514), (RegionLevel.DISTRICT, 7285),
                          (RegionLevel.VILLAGE, 83762)):
        assert count(db_session, Region.level == level) == number
    assert count(db_session, Region.parent_id.is_(None)) == 38
    assert count(db_session, Region.village_kind == VillageKind.CUSTOMARY) == 14
    assert region("33.16.01.2003").parent.parent.name == "Kabupaten Blora"


# ------------------------------------------------------------------------- posts and scope

def _official(runner, code):
    result = runner.invoke(args=["slrt", "setup-district", code])
    assert result.exit_code == 0, result.output
    return region(code)


def test_two_regencies_in_one_database_are_scoped_apart(runner, db_session):
    blora, rembang = _official(runner, "33.16"), _official(runner, "33.17")
    secretariats = {u.region.code: u for u in db_session.scalars(select(Unit))}
    assert set(secretariats) == {"33.16", "33.17"}
    people, cases = {}, {}
    for code, village_code in (("33.16", "33.16.01.2003"), ("33.17", "33.17.01.2001")):
        unit = secretariats[code]
        people[code] = {role: staff_ops.create_staff(username=f"{role.value}.{code.replace('.', '')}",
                                                     full_name="Petugas Satu", role=role, unit=unit,
                                                     password="rahasia-demo-1", actor=SYSTEM_ACTOR)
                        for role in (FO, MA)}
        service = db_session.scalar(select(Service).where(Service.code == "BANSOS"))
        resident = register_resident(nik=f"{village_code[:2]}{village_code[3:5]}015705800001", name="Sri Rahayu",
                                     sex="F", birth_date=BORN,
                                     village=region(village_code), address="RT 1", actor=people[code][FO])
        cases[code] = case_ops.open_case(resident=resident, unit=unit, channel="walk_in", summary="Butuh sembako",
                                         needs=[service], actor=people[code][FO])
    db_session.flush()
    for mine, theirs in (("33.16", "33.17"), ("33.17", "33.16")):
        for role in (FO, MA):
            seen = set(db_session.scalars(select(Case.id).where(in_scope(people[mine][role], Case))))
            assert cases[mine].id in seen and cases[theirs].id not in seen
        villages = covered_village_ids(people[mine][MA])
        assert region(f"{mine}.01.2001").id in villages and region(f"{theirs}.01.2001").id not in villages
    assert blora.name == "Kabupaten Blora" and rembang.name == "Kabupaten Rembang"
    with pytest.raises(PermissionDenied):
        units.create_post(name="Puskesos Sumber", secretariat=secretariats["33.17"], village=region("33.17.01.2001"),
                          actor=people["33.16"][MA])


def test_a_post_serves_a_group_of_villages_and_once_closed_its_cases_stay_with_the_secretariat(runner, db_session):
    _official(runner, "33.16")
    secretariat = db_session.scalar(select(Unit))
    manager = staff_ops.create_staff(username="kepala", full_name="Kepala Dinas", role=MA, unit=secretariat,
                                     password="rahasia-demo-1", actor=SYSTEM_ACTOR)
    kepoh, doplang, jati = region("33.16.01.2003"), region("33.16.01.2001"), region("33.16.01")
    post = units.create_post(name="Puskesos Kepoh", secretariat=secretariat, village=kepoh,
                             more_villages=[doplang, kepoh], address="Balai Desa Kepoh", phone=None, actor=manager)
    assert post.parent is secretariat and [v.code for v in post.villages] == ["33.16.01.2001"]
    clerk = staff_ops.create_staff(username="clerk", full_name="Dwi Lestari", role=FO, unit=post,
                                   password="rahasia-demo-1", actor=manager)
    assert covered_village_ids(clerk) == {kepoh.id, doplang.id}
    resident = register_resident(nik="3316015705800002", name="Sri Rahayu", sex="F",
                                 birth_date=BORN, village=doplang,
                                 address="RT 1", actor=clerk)
    service = db_session.scalar(select(Service).where(Service.code == "BANSOS"))
    case = case_ops.open_case(resident=resident, unit=post, channel="walk_in", summary="Butuh sembako",
                              needs=[service], actor=clerk)
    with pytest.raises(ValidationError):  # a kecamatan is not a village
        units.create_post(name="Puskesos Jati", secretariat=secretariat, village=jati, actor=manager)
    with pytest.raises(ValidationError, match="akun petugas aktif"):
        units.deactivate_post(post, actor=manager)
    with pytest.raises(PermissionDenied):
        units.deactivate_post(post, actor=clerk)
    staff_ops.set_active(clerk, False, actor=manager)
    units.deactivate_post(post, actor=manager)
    assert not post.is_active and post.parent is secretariat
    assert case.id in set(db_session.scalars(select(Case.id).where(in_scope(manager, Case))))
    region_gone = region("33.16.01.2005") or region("33.16.01.2002")
    region_gone.is_active = False
    with pytest.raises(ValidationError, match="daftar wilayah resmi"):
        units.create_post(name="Puskesos Lama", secretariat=secretariat, village=region_gone, actor=manager)


# ------------------------------------------------------------------------- screens

def test_region_and_unit_screens_for_managers_only(app, district, db_session):
    manager = signed_in(app, district, MA)
    listing = manager.get("/admin/region/")
    assert listing.status_code == 200
    page = listing.get_data(as_text=True)
    assert "kabupaten/kota" in page and "Jawa Tengah" in page
    village = district.villages[0]
    assert "Jepon" in manager.search("/admin/region/", "33.16.01.2001").get_data(as_text=True)
    children = manager.get(f"/admin/region/?flt0_0={village.parent_id}").get_data(as_text=True)
    assert "Palon" in children and "Jawa Tengah" not in children
    assert manager.get("/admin/region/?flt0_0=abc").status_code == 200
    assert manager.get("/admin/region/new/").status_code in (403, 404)
    units_page = manager.get("/admin/unit/").get_data(as_text=True)
    assert "Puskesos Jepon" in units_page and "Sekretariat SLRT Blora" in units_page
    for role in (SU, FO):
        other = signed_in(app, district, role)
        assert other.get("/admin/region/").status_code == 403
        assert other.get("/admin/unit/").status_code == 403


def test_a_manager_opens_a_post_for_two_villages_by_search_and_pick(app, district, db_session):
    from slrt.models.enums import RegionLevel as Level

    jepon_district = district.villages[0].parent
    extra = Region(code="33.16.01.2003", name="Kepoh", level=Level.VILLAGE, parent=jepon_district,
                   village_kind=VillageKind.RURAL)
    elsewhere = Region(code="33.17.01.2001", name="Kepohkidul", level=Level.VILLAGE, village_kind=VillageKind.RURAL)
    db_session.add_all([extra, elsewhere])
    db_session.commit()
    manager = signed_in(app, district, MA)
    found = manager.get("/admin/unit/ajax/lookup/?name=region&query=kepoh").get_json()
    assert [row[0] for row in found] == [extra.id]  # only the villages of the secretariat's regency
    assert "Kepoh, Jepon (33.16.01.2003)" in found[0][1]
    form = manager.get("/admin/unit/new/").get_data(as_text=True)
    assert 'data-role="select2-ajax"' in form and "Desa/kelurahan lain yang dilayani" in form
    response = manager.post("/admin/unit/new/", {
        "name": "Puskesos Kepoh", "parent": str(district.secretariat.id), "region": str(extra.id),
        "villages": f"{district.villages[1].id}", "address": "Balai Desa Kepoh", "phone": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    post = db_session.scalar(select(Unit).where(Unit.name == "Puskesos Kepoh"))
    assert post.parent_id == district.secretariat.id and [v.id for v in post.villages] == [district.villages[1].id]
    manager.get("/admin/unit/new/")
    refused = manager.post("/admin/unit/new/", {
        "name": "Puskesos Luar", "parent": str(district.secretariat.id), "region": str(elsewhere.id),
        "address": "", "phone": ""})
    assert "bukan desa/kelurahan di" in refused.get_data(as_text=True)
    assert db_session.scalar(select(Unit).where(Unit.name == "Puskesos Luar")) is None

    manager.get("/admin/unit/")
    closed = manager.post("/admin/unit/action/", {"action": "deactivate", "rowid": str(post.id)})
    assert closed.status_code == 302
    db_session.expire_all()
    assert not db_session.get(Unit, post.id).is_active
    busy = district.puskesos[0]
    manager.get("/admin/unit/")
    manager.post("/admin/unit/action/", {"action": "deactivate", "rowid": str(busy.id)})
    db_session.expire_all()
    assert db_session.get(Unit, busy.id).is_active  # its staff are still there


def test_a_manager_corrects_the_secretariats_address_and_phone_on_screen(app, district, db_session):
    manager = signed_in(app, district, MA)
    secretariat = district.secretariat
    form = manager.get(f"/admin/unit/edit/?id={secretariat.id}").get_data(as_text=True)
    assert 'name="phone"' in form and 'name="region"' not in form and 'name="villages"' not in form
    response = manager.post(f"/admin/unit/edit/?id={secretariat.id}", {
        "name": "Sekretariat SLRT Blora", "address": "Jl. Pemuda No. 16, Blora", "phone": "(0296) 531999"})
    assert response.status_code == 302, response.get_data(as_text=True)
    db_session.expire_all()
    saved = db_session.get(Unit, secretariat.id)
    assert (saved.address, saved.phone, saved.region_id) == ("Jl. Pemuda No. 16, Blora", "(0296) 531999",
                                                             district.regency.id)
    post_manager = signed_in(app, district, MA, district.puskesos[0])
    assert post_manager.get(f"/admin/unit/edit/?id={secretariat.id}").status_code == 404
    post_manager_account = db_session.get(Staff, district.user(MA, district.puskesos[0]).id)
    with pytest.raises(PermissionDenied):
        units.update_secretariat(db_session.get(Unit, secretariat.id), name="Sekretariat Lain", phone="0",
                                 actor=post_manager_account)


def test_puskesos_manager_sees_only_its_post_and_cannot_open_posts(app, district, db_session):
    manager = signed_in(app, district, MA, district.puskesos[0])
    page = manager.get("/admin/unit/").get_data(as_text=True)
    assert "Puskesos Jepon" in page and "Puskesos Palon" not in page
    assert manager.get("/admin/unit/ajax/lookup/?name=region&query=a").get_json() == []
    assert manager.get(f"/admin/unit/edit/?id={district.puskesos[1].id}").status_code == 404


def test_cases_of_a_closed_post_stay_with_the_secretariat_on_screen(app, district, db_session):
    post = district.puskesos[1]
    case = make_case(district, make_resident(district, village=district.villages[1]), unit=post)
    for user in db_session.scalars(select(Staff).where(Staff.unit_id == post.id)):
        user.active = False
    units.deactivate_post(post, actor=district.user(MA))
    db_session.commit()
    supervisor = signed_in(app, district, SU)
    assert supervisor.get(f"/admin/case/details/?id={case.id}").status_code == 200


def test_region_filters_by_level_and_ignore_a_value_that_is_none(app, district, db_session):
    manager = signed_in(app, district, MA)
    villages = manager.get("/admin/region/?flt0_1=village").get_data(as_text=True)
    assert "Palon" in villages and "Jawa Tengah" not in villages
    assert manager.get("/admin/region/?flt0_1=bogus").status_code == 200
    assert manager.get("/admin/unit/?flt0_0=bogus").status_code == 200


def test_no_account_is_placed_in_a_closed_post(app, district, db_session):
    post = district.puskesos[1]
    for user in db_session.scalars(select(Staff).where(Staff.unit_id == post.id)):
        user.active = False
    units.deactivate_post(post, actor=district.user(MA))
    with pytest.raises(ValidationError, match="ditutup"):
        staff_ops.create_staff(username="baru", full_name="Petugas Baru", role=FO, unit=post,
                               password="rahasia-demo-1", actor=district.user(MA))
    with pytest.raises(ValidationError, match="ditutup"):
        staff_ops.update_staff(district.user(FO), actor=district.user(MA), full_name="Petugas Front Office",
                               role=FO, unit=post)
    units.activate_post(post, actor=district.user(MA))
    assert staff_ops.create_staff(username="baru", full_name="Petugas Baru", role=FO, unit=post,
                                  password="rahasia-demo-1", actor=district.user(MA)).unit is post
