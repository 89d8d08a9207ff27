"""Residents and households: NIK and KK encrypted at rest, found by keyed hash, shown masked."""

from datetime import date

import pytest
from sqlalchemy import text

from fakes.builders import make_resident
from slrt import residents
from slrt.errors import PermissionDenied, ValidationError
from slrt.identity import validate_name
from slrt.models.enums import PhoneOwner, Role


def test_nik_is_encrypted_at_rest_and_found_by_keyed_hash(district, db_session):
    resident = residents.register_resident(
        nik="3316 0157 0845 0001", name="Siti Aminah", sex="F", birth_date=date(1945, 8, 17),
        village=district.villages[0], address="RT 02 RW 01", actor=district.user(Role.FRONT_OFFICE),
        phone="0812-2555-0999")
    row = db_session.execute(text("SELECT * FROM resident WHERE id = :id"), {"id": resident.id}).mappings().one()
    assert "3316015708450001" not in " ".join(str(v) for v in row.values())
    assert row["nik_masked"] == "3316********0001"
    assert resident.nik == "3316015708450001"
    assert residents.find_by_nik("3316-0157-0845-0001") == resident
    assert residents.find_by_nik("3316015708450002") is None
    assert resident.phone == "+6281225550999"


def test_same_nik_twice_is_refused(district, db_session):
    resident = make_resident(district)
    with pytest.raises(ValidationError, match="Warga dengan NIK ini sudah terdaftar"):
        residents.register_resident(nik=resident.nik, name="Siti Lain", sex="F", birth_date=resident.birth_date,
                                    village=district.villages[0], address="x", actor=district.user(Role.MANAGER))


def test_wrong_sex_or_birth_date_for_the_nik_saves_nothing(district, db_session):
    with pytest.raises(ValidationError, match="NIK ini milik perempuan"):
        residents.register_resident(nik="3316015708450001", name="Siti", sex="M", birth_date=date(1945, 8, 17),
                                    village=district.villages[0], address="x", actor=district.user(Role.MANAGER))
    assert residents.find_by_nik("3316015708450001") is None


def test_landline_is_refused_for_a_resident(district, db_session):
    with pytest.raises(ValidationError, match="nomor telepon rumah/kantor") as err:
        make_resident(district, phone="(0296) 531234")
    assert err.value.field == "phone"


def test_a_phone_that_is_not_theirs_names_its_holder(district, db_session):
    with pytest.raises(ValidationError, match="Isi nama pemegang"):
        residents.register_resident(nik="3316011708450001", name="Slamet", sex="M", birth_date=date(1945, 8, 17),
                                    village=district.villages[0], address="x", actor=district.user(Role.MANAGER),
                                    phone="081225550777", phone_owner=PhoneOwner.RT_RW_HEAD)
    resident = make_resident(district, phone_owner=PhoneOwner.FAMILY)
    assert resident.phone_owner == PhoneOwner.FAMILY and resident.phone_owner_name == "Pak RT Sutrisno"
    assert not resident.has_own_phone


def test_household_by_kk(district, db_session):
    clerk = district.user(Role.FRONT_OFFICE)
    household = residents.register_household(kk_number="3316012005100007", address="Dk. Krajan RT 1",
                                             village=district.villages[0], actor=clerk)
    assert household.kk_masked == "3316********0007" and household.kk_number == "3316012005100007"
    assert residents.find_household_by_kk("3316 0120 0510 0007") == household
    with pytest.raises(ValidationError, match="Nomor KK ini sudah terdaftar"):
        residents.register_household(kk_number="3316012005100007", address="x", village=district.villages[0],
                                     actor=clerk)


def test_village_must_be_a_village(district, db_session):
    with pytest.raises(ValidationError, match="Pilih desa/kelurahan"):
        make_resident(district, village=district.regency)


def test_agency_contact_cannot_register_residents(district, db_session):
    with pytest.raises(PermissionDenied):
        residents.register_resident(nik="3316011708450001", name="Slamet", sex="M", birth_date=date(1945, 8, 17),
                                    village=district.villages[0], address="x",
                                    actor=district.agencies["bpjs"].contacts[0])


def test_intake_lookup_refuses_a_resident_of_a_village_the_unit_does_not_serve(district, db_session):
    resident = make_resident(district, village=district.villages[1])
    jepon = district.user(Role.FRONT_OFFICE, district.puskesos[0])
    with pytest.raises(PermissionDenied, match="Warga ini terdaftar di desa lain"):
        residents.find_for_intake(resident.nik, actor=jepon)
    palon = district.user(Role.FRONT_OFFICE, district.puskesos[1])
    assert residents.find_for_intake(resident.nik, actor=palon) == resident
    assert residents.find_for_intake(resident.nik, actor=district.user(Role.FRONT_OFFICE)) == resident
    assert residents.find_for_intake("3316015708450001", actor=jepon) is None


def test_intake_household_is_found_registered_or_refused_by_village(district, db_session):
    jepon = district.user(Role.FRONT_OFFICE, district.puskesos[0])
    assert residents.household_for_intake(" ", address="x", village=district.villages[0], actor=jepon) is None
    with pytest.raises(PermissionDenied, match="Palon tidak dilayani unit Anda"):
        residents.household_for_intake("3316012005100007", address="Dk. Krajan", village=district.villages[1],
                                       actor=jepon)
    palon = district.user(Role.FRONT_OFFICE, district.puskesos[1])
    household = residents.household_for_intake("3316012005100007", address="Dk. Krajan",
                                               village=district.villages[1], actor=palon)
    assert household.village == district.villages[1]
    assert residents.household_for_intake("3316 0120 0510 0007", address="", village=None, actor=palon) == household
    with pytest.raises(PermissionDenied, match="Nomor KK ini terdaftar di desa lain"):
        residents.household_for_intake("3316012005100007", address="x", village=district.villages[0], actor=jepon)


def test_a_puskesos_registers_households_of_its_own_village_only(district, db_session):
    with pytest.raises(PermissionDenied, match="Palon tidak dilayani unit Anda"):
        residents.register_household(kk_number="3316012005100007", address="Dk. Krajan", village=district.villages[1],
                                     actor=district.user(Role.FRONT_OFFICE, district.puskesos[0]))


def test_update_resident_checks_like_intake(district, db_session):
    resident = make_resident(district)
    clerk = district.user(Role.FRONT_OFFICE, district.puskesos[0])
    change = {"name": "siti  aminah", "address": "RT 03 RW 01", "phone": "0813-2555-0177", "language": "en"}
    with pytest.raises(ValidationError, match="Alamat wajib diisi"):
        residents.update_resident(resident, actor=clerk, **{**change, "address": "  "})
    with pytest.raises(ValidationError, match="nomor telepon rumah/kantor"):
        residents.update_resident(resident, actor=clerk, **{**change, "phone": "(0296) 531234"})
    with pytest.raises(ValidationError, match="Isi nama pemegang nomor HP ini"):
        residents.update_resident(resident, actor=clerk, **change, phone_owner=PhoneOwner.NEIGHBOUR)
    with pytest.raises(PermissionDenied, match="Jepon tidak dilayani unit Anda"):
        residents.update_resident(resident, actor=district.user(Role.FRONT_OFFICE, district.puskesos[1]), **change)
    with pytest.raises(PermissionDenied):
        residents.update_resident(resident, actor=district.agencies["bpjs"].contacts[0], **change)
    residents.update_resident(resident, actor=clerk, **change)
    assert (resident.address, resident.phone, resident.language) == ("RT 03 RW 01", "+6281325550177", "en")
    assert resident.name == validate_name("siti  aminah")
