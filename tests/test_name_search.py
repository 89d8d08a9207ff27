"""Lists find a resident by any word of the name, through the name-word index; the referral list
by code, ticket, resident or agency; existing residents get their words when the migration runs."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from hypothesis import given
from hypothesis import strategies as st

from app import create_app
from fakes.builders import make_case, make_referral, make_resident
from slrt import residents
from slrt.codes import format_code
from slrt.extensions import db
from slrt.models import ResidentNameWord
from slrt.models.enums import Role
from slrt.models.people import _unicode_name_words, name_words
from slrt.pii import new_key
from tests.test_admin_work import _capture_sql
from tests.web import Browser


@pytest.mark.parametrize(("name", "words"), [
    ("Slamet Riyanto", ["slamet", "riyanto"]),
    ("  SITI   aminah ", ["siti", "aminah"]),
    ("Muh. Ma'ruf Slamet-Riyanto", ["muh", "maruf", "slamet", "riyanto"]),
    ("Ñoman Ma\u2019ruf Ma'ruf", ["noman", "maruf"]),
    ("", []),
])
def test_name_words(name, words):
    assert name_words(name) == words


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60)
       | st.text(alphabet="Ab z.-'`,\t\u00e9\u2019\u00b4\u00f1", max_size=30))
def test_ascii_names_give_the_words_decomposing_gives(name):
    """The quick way for ASCII names finds exactly the words the accent-removing way finds."""
    assert name_words(name) == _unicode_name_words(name)


@pytest.fixture
def supervisor(app, district, db_session):
    """Signs in when first used: the records a test makes come first (a request ends their session)."""

    class LateBrowser(Browser):
        signed_in = False

        def search(self, list_url, term):
            if not self.signed_in:
                self.signed_in = True
                self.login(district.user(Role.SUPERVISOR).username)
            return super().search(list_url, term)

    return LateBrowser(app)


def _listed(page) -> str:
    return page.get_data(as_text=True).split('class="table', 1)[-1]


@pytest.mark.parametrize("typed", ["Riyanto", "riy", "slamet riyanto", "RIYANTO slamet", "Slamet R."])
def test_case_search_finds_a_resident_by_any_word_of_the_name(supervisor, district, db_session, typed):
    case = make_case(district, make_resident(district, name="Slamet Riyanto"))
    make_case(district, make_resident(district, name="Slamet Widodo"))
    db_session.commit()
    listed = _listed(supervisor.search("/admin/case/", typed))
    assert format_code(case.ticket) in listed and "Slamet Riyanto" in listed
    assert "Slamet Widodo" not in listed


def test_case_search_needs_every_word(supervisor, district, db_session):
    make_case(district, make_resident(district, name="Slamet Riyanto"))
    db_session.commit()
    assert "Slamet Riyanto" not in _listed(supervisor.search("/admin/case/", "Budi Riyanto"))


def test_name_search_reads_the_word_index_not_a_scan(app, supervisor, district, db_session):
    make_case(district, make_resident(district, name="Slamet Riyanto"))
    db_session.commit()
    page = None

    def search():
        nonlocal page
        page = supervisor.search("/admin/resident/", "riyanto")

    statements = _capture_sql(app, search)
    assert "Slamet Riyanto" in _listed(page)
    listing = [s for s in statements if "resident_name_word" in s]
    assert listing and not any("LIKE" in s.upper() for s in listing)


def test_a_new_name_replaces_the_words(supervisor, district, db_session):
    resident = make_resident(district, name="Slamet Riyanto")
    make_case(district, resident)
    residents.update_resident(resident, actor=district.user(Role.FRONT_OFFICE), name="Slamet Haryanto",
                              address=resident.address, phone=resident.phone)
    db_session.commit()
    words = db_session.scalars(sa.select(ResidentNameWord.word).where(ResidentNameWord.resident_id == resident.id))
    assert sorted(words) == ["haryanto", "slamet"]
    assert "Slamet Haryanto" not in _listed(supervisor.search("/admin/case/", "riyanto"))
    assert "Slamet Haryanto" in _listed(supervisor.search("/admin/case/", "haryanto"))


def test_referral_list_searches_code_ticket_resident_and_agency(supervisor, district, db_session):
    bpjs = make_referral(district, make_case(district, make_resident(district, name="Slamet Riyanto")))
    baznas = make_referral(district, make_case(district, make_resident(district, name="Sri Lestari")),
                           service="bansos")
    db_session.commit()
    assert baznas.agency.short_name == "Baznas"
    for typed, found, not_found in [
        (format_code(bpjs.code), bpjs, baznas),
        (format_code(baznas.case.ticket), baznas, bpjs),
        ("riyanto", bpjs, baznas),
        ("lestari", baznas, bpjs),
        ("baznas", baznas, bpjs),
        ("bpjs kesehatan", bpjs, baznas),
    ]:
        listed = _listed(supervisor.search("/admin/referral/", typed))
        assert format_code(found.code) in listed, typed
        assert format_code(not_found.code) not in listed, typed


def test_the_migration_gives_existing_residents_their_words(empty_database, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "SLRT_PII_KEY": new_key(), "SECRET_KEY": "x",
                      "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'b.sqlite'}"})
    with app.app_context():
        upgrade(revision="0011_case_unit_paging")
        with db.engine.begin() as conn:
            village = conn.execute(sa.text(
                "INSERT INTO region (code, name, level) VALUES ('33.16.01.2001', 'Jepon', 'village') RETURNING id"
            )).scalar()
            for n, name in enumerate(["Slamet Riyanto", "Siti  Aminah", "Muh. Ma'ruf"]):
                conn.execute(sa.text(
                    "INSERT INTO resident (nik_encrypted, nik_hash, nik_masked, name, name_key, sex, birth_date,"
                    " village_id, address, phone_owner, is_sms_opted_out, language, created_at)"
                    " VALUES ('x', :hash, '3316********0001', :name, :key, 'M', :born, :village, 'RT 1',"
                    " 'own', false, 'id', CURRENT_TIMESTAMP)"),
                    {"hash": f"h{n}", "name": name, "key": name.lower(), "born": date(1970, 1, 1), "village": village})
        upgrade()
        with db.engine.connect() as conn:
            words = conn.execute(sa.text(
                "SELECT r.name, w.word FROM resident_name_word w JOIN resident r ON r.id = w.resident_id")).all()
        assert sorted(words) == sorted([("Slamet Riyanto", "slamet"), ("Slamet Riyanto", "riyanto"),
                                        ("Siti  Aminah", "siti"), ("Siti  Aminah", "aminah"),
                                        ("Muh. Ma'ruf", "muh"), ("Muh. Ma'ruf", "maruf")])
        db.engine.dispose()
