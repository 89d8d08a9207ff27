"""Ticket and referral codes: a keypad typo or a swapped pair never finds another record."""

import itertools
import random

import pytest

from slrt.codes import format_code, new_code, parse_code, with_check_digit
from slrt.errors import ValidationError


@pytest.fixture(autouse=True)
def _ctx(app):
    with app.test_request_context():
        yield


@pytest.mark.parametrize("typed", ["48213-7", "482137", " 48213 7 ", "48213.7", "4821-37", "48 21 37"])
def test_codes_are_read_leniently(typed):
    body = "48213"
    code = with_check_digit(body)
    typed = typed.replace("7", code[-1]) if code[-1] != "7" else typed
    assert parse_code(typed) == code


def test_code_is_written_grouped():
    assert format_code("482137") == "48213-7"


def _codes(n=300):
    rng = random.Random(7)
    return [with_check_digit(str(rng.randrange(10_000, 10_000_000))) for _ in range(n)]


def test_every_single_digit_typo_is_caught():
    for code in _codes():
        for pos, digit in itertools.product(range(len(code)), "0123456789"):
            if code[pos] == digit:
                continue
            typo = code[:pos] + digit + code[pos + 1 :]
            with pytest.raises(ValidationError, match="salah ketik atau dua angka tertukar"):
                parse_code(typo)


def test_every_adjacent_swap_is_caught():
    for code in _codes():
        for pos in range(len(code) - 1):
            if code[pos] == code[pos + 1]:
                continue
            swapped = code[:pos] + code[pos + 1] + code[pos] + code[pos + 2 :]
            with pytest.raises(ValidationError):
                parse_code(swapped)


@pytest.mark.parametrize(("typed", "message"), [("", "Masukkan kode."), ("48A13-7", "hanya berisi angka"),
                                                 ("123", "minimal 5 angka")])
def test_bad_codes_get_a_clear_message(typed, message):
    with pytest.raises(ValidationError, match=message):
        parse_code(typed)


def test_new_codes_are_short_digits_and_grow_when_crowded():
    taken = set()
    first = new_code(taken.__contains__, digits=5)
    assert len(first) == 6 and first.isdigit() and first[0] != "0"
    assert parse_code(format_code(first)) == first
    # every 5-digit body taken: the next code has one digit more
    assert len(new_code(lambda c: len(c) == 6, digits=5)) == 7
