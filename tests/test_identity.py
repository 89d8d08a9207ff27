"""NIK, KK and phone validation, table-driven: what a clerk types and what they are told."""

import hashlib
import hmac
from datetime import date

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from stdnum.id import nik as stdnum_nik

from slrt import identity
from slrt.errors import ValidationError
from slrt.identity import (
    birth_date_from_nik,
    display_phone,
    facts_from_nik,
    mask_phone,
    normalize_mobile,
    sex_from_nik,
    validate_kk,
    validate_name,
    validate_nik,
)
from slrt.pii import mask, vault


@pytest.fixture(autouse=True)
def _ctx(app):
    with app.test_request_context():
        yield


VALID_NIKS = [
    # (typed, normalized, sex, birth date)
    ("3316011708450001", "3316011708450001", "M", date(1945, 8, 17)),
    ("3316015708450001", "3316015708450001", "F", date(1945, 8, 17)),  # woman: day + 40
    ("3316 0157 0845 0001", "3316015708450001", "F", date(1945, 8, 17)),
    ("3316-01-570845-0001", "3316015708450001", "F", date(1945, 8, 17)),
    ("3171014102040002", "3171014102040002", "F", date(2004, 2, 1)),
    ("3316016902000123", "3316016902000123", "F", date(2000, 2, 29)),  # leap day, woman
]


@pytest.mark.parametrize(("typed", "normalized", "sex", "born"), VALID_NIKS)
def test_valid_nik_is_normalized_and_consistent(typed, normalized, sex, born):
    assert validate_nik(typed, birth_date=born, sex=sex) == normalized
    assert sex_from_nik(normalized) == sex
    assert birth_date_from_nik(normalized, today=date(2026, 11, 24)) == born


INVALID_NIKS = [
    ("", "NIK wajib diisi."),
    ("331601170845000", "NIK harus 16 angka; yang diisi 15 angka."),
    ("33160117084500011", "NIK harus 16 angka; yang diisi 17 angka."),
    ("3316O11708450001", "NIK hanya boleh berisi angka."),
    ("9916011708450001", "Angka awal NIK (9916) bukan kode provinsi"),
    ("3399011708450001", "Angka awal NIK (3399) bukan kode provinsi"),
    ("3316013208450001", "bukan tanggal lahir yang sah"),  # day 32
    ("3316011713450001", "bukan tanggal lahir yang sah"),  # month 13
    ("3316017202010001", "bukan tanggal lahir yang sah"),  # woman, 32 Feb
    ("3316010000450001", "bukan tanggal lahir yang sah"),
]


@pytest.mark.parametrize(("typed", "message"), INVALID_NIKS)
def test_invalid_nik_is_refused_in_indonesian(typed, message):
    with pytest.raises(ValidationError) as err:
        validate_nik(typed)
    assert message in str(err.value)
    assert err.value.field == "nik"


def test_intake_reads_birth_date_and_sex_from_a_valid_nik(frozen):
    assert facts_from_nik("3316 0855 0380 0007") == (date(1980, 3, 15), "F")  # woman: 55 = 15 + 40
    assert facts_from_nik("3316011708450001") == (date(1945, 8, 17), "M")
    assert facts_from_nik("3171014102240002") == (date(2024, 2, 1), "F")  # this century when not in the future
    assert facts_from_nik("3316013208450001") is None  # day 32: nothing to fill in
    assert facts_from_nik("12345") is None


def test_nik_must_match_the_sex_entered():
    with pytest.raises(ValidationError, match="milik perempuan"):
        validate_nik("3316015708450001", sex="M")
    with pytest.raises(ValidationError, match="milik laki-laki"):
        validate_nik("3316011708450001", sex="F")


def test_nik_must_match_the_birth_date_entered():
    with pytest.raises(ValidationError, match=r"Tanggal lahir di NIK \(17-08-45\) berbeda .* \(18-08-1945\)"):
        validate_nik("3316011708450001", birth_date=date(1945, 8, 18))


def test_messages_switch_to_english(app):
    with app.test_request_context("/?lang=en"):
        with pytest.raises(ValidationError, match="NIK must be 16 digits; 3 were entered."):
            validate_nik("123")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("3316012005100007", "3316012005100007"), ("3316 0120 0510 0007", "3316012005100007")],
)
def test_valid_kk(typed, expected):
    assert validate_kk(typed) == expected


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Nomor KK wajib diisi."),
        ("33160120051000", "Nomor KK harus 16 angka; yang diisi 14 angka."),
        ("33160120051000AB", "Nomor KK hanya boleh berisi angka."),
        ("9916012005100007", "Angka awal nomor KK (9916)"),
        ("3316012005100000", "tidak boleh 0000"),
    ],
)
def test_invalid_kk(typed, message):
    with pytest.raises(ValidationError) as err:
        validate_kk(typed)
    assert message in str(err.value)


ACCEPTED_PHONES = [
    ("081234567890", "+6281234567890"),
    ("0812-3456-7890", "+6281234567890"),
    ("0812 3456 7890", "+6281234567890"),
    ("0812.3456.7890", "+6281234567890"),
    ("6281234567890", "+6281234567890"),
    ("+62 812 3456 7890", "+6281234567890"),
    ("+62-812-3456-7890", "+6281234567890"),
    ("(+62) 812 3456 7890", "+6281234567890"),
    ("  085712345678 ", "+6285712345678"),
    ("0878-1234-5678", "+6287812345678"),
    ("08112345678", "+628112345678"),  # 11 digits, Telkomsel
    ("0895 1234 5678", "+6289512345678"),  # Tri
]


@pytest.mark.parametrize(("typed", "e164"), ACCEPTED_PHONES)
def test_mobile_numbers_in_every_accepted_form(typed, e164):
    assert normalize_mobile(typed) == e164


REJECTED_PHONES = [
    ("", "Nomor HP wajib diisi."),
    ("0296 531234", "nomor telepon rumah/kantor"),  # Blora landline
    ("021-5551234", "nomor telepon rumah/kantor"),  # Jakarta landline
    ("+62 21 5551234", "nomor telepon rumah/kantor"),
    ("08123", "tidak sah"),
    ("0812345678901234", "tidak sah"),
    ("+6591234567", "Hanya nomor HP Indonesia"),  # Singapore mobile
    ("+1 415 555 2671", "Hanya nomor HP Indonesia"),
    ("0812-ABCD-7890", "hanya boleh berisi angka"),
    ("tidak ada", "hanya boleh berisi angka"),
    ("+++", "bukan nomor telepon"),
]


@pytest.mark.parametrize(("typed", "message"), REJECTED_PHONES)
def test_mobile_numbers_rejected_with_a_reason(typed, message):
    with pytest.raises(ValidationError) as err:
        normalize_mobile(typed)
    assert message in str(err.value)


def _outcome(function, *args):
    try:
        return function(*args)
    except ValidationError as exc:
        return ("refused", str(exc.message))


#: Numbers as typed: a prefix people write, digits, separators, and now and then other characters.
_TYPED_PHONES = st.builds(
    lambda prefix, digits, separators: "".join(
        ch + separators[i % len(separators)] if separators and i % 4 == 3 else ch
        for i, ch in enumerate(prefix + digits)),
    st.sampled_from(["0", "62", "+62", "+62 ", "(+62) ", "(0", "00", "062", "+0", "+620", "6", "+", "++62", "08", ""]),
    st.text(alphabet="0123456789", min_size=0, max_size=15),
    st.text(alphabet=" -.()/+\t٣a", max_size=3),
) | st.text(alphabet="0123456789+-. ()١٨", max_size=18)


@settings(max_examples=3000, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(_TYPED_PHONES)
def test_mobile_fast_path_answers_as_phonenumbers_does(typed):
    """The shortcut for plain mobiles gives, for any input, what phonenumbers' full parse gives."""
    assume(typed.strip())  # an empty number is refused before either
    assert _outcome(normalize_mobile, typed) == _outcome(identity._parsed_mobile, typed.strip(), "phone")


def test_every_mobile_prefix_and_length_answers_as_phonenumbers_does():
    for first in range(10, 100):
        for length in range(7, 14):
            national = f"{first}{'1234567890123'[:length - 2]}"
            for typed in (f"0{national}", f"62{national}", f"+62 {national}", f"0{national[:3]}-{national[3:]}"):
                assert _outcome(normalize_mobile, typed) == _outcome(identity._parsed_mobile, typed, "phone"), typed


@settings(max_examples=3000, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_nik_birth_date_check_is_python_stdnums(rest):
    """Digits 7-12 are accepted exactly when python-stdnum reads a birth date from them."""
    number = "3316" + rest
    assert (_outcome(validate_nik, number) == number) == stdnum_nik.is_valid(number)


@given(st.text(alphabet="0123456789 -.x٣", max_size=20))
def test_separators_are_dropped_as_before(typed):
    assert identity._digits_only(typed) == "".join(ch for ch in typed if ch not in " -.")


def test_phone_display_and_mask():
    assert display_phone("+6281234567890") == "0812-3456-7890"
    assert mask_phone("+6281234567890") == "0812****7890"


def test_identifier_mask_hides_the_birth_date():
    assert mask("3316015708450001") == "3316********0001"


@pytest.mark.parametrize(("typed", "ok"), [("  Siti   Aminah ", "Siti Aminah"), ("Sri", "Sri")])
def test_names_are_tidied(typed, ok):
    assert validate_name(typed) == ok


@pytest.mark.parametrize("typed", ["", " ", "S", "Siti 2", "x" * 121])
def test_bad_names_are_refused(typed):
    with pytest.raises(ValidationError):
        validate_name(typed)


def test_bound_hasher_finds_what_lookup_hash_finds(app):
    """The importer's hasher (key taken once) gives the stored lookup hash: HMAC-SHA256 of kind:value."""
    key = app.extensions["slrt_pii"].hash_key
    for kind in ("nik", "kk"):
        hasher = vault.hasher(kind)
        for value in ("3316011708450001", "3316012001000123", ""):
            expected = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
            assert vault.lookup_hash(kind, value) == hasher(value) == expected
    assert vault.hasher("nik")("3316011708450001") != vault.hasher("kk")("3316011708450001")


@settings(max_examples=2000, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=130), max_size=130)
       | st.text(alphabet="Ab .,'-1\u00e9\u0663", max_size=12))
def test_plain_names_are_taken_as_the_full_check_takes_them(typed):
    """The quick way for plain ASCII names accepts exactly what the character-by-character check accepts."""
    name = " ".join(typed.split())
    full = (2 <= len(name) <= 120 and not any(ch.isdigit() for ch in name) and name[:1].isalpha()
            and all(ch.isalpha() or ch in " .,'-" for ch in name))
    assert (_outcome(validate_name, typed) == name) == full


def test_identifiers_encrypted_together_are_fernet_tokens_of_the_vault(app):
    """Tokens made in a batch decrypt with the vault (Fernet) to the values, each with its own IV."""
    values = ["3316011708450001", "3316012001000123", "", "é" * 20, "x" * 31, "y" * 32]
    tokens = vault.encrypt_many(values)
    assert [vault.decrypt(token) for token in tokens] == values
    assert [app.extensions["slrt_pii"].fernet.decrypt(token.encode()).decode() for token in tokens] == values
    assert len({token[:57] for token in vault.encrypt_many(["3316011708450001"] * 50)}) == 50  # IVs differ
    assert vault.encrypt_many([]) == []
