"""Residents and households: NIK and KK encrypted at rest, found by keyed hash, shown masked."""

from datetime import date

import pytest
from sqlalchemy import text

from slrt import residents
from slrt.errors import PermissionDenied, ValidationError
from slrt.models.enums import PhoneOwner, Role
from tests.builders import make_resident


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
