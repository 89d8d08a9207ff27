"""SMS commands as people type them on keypad phones (table-driven)."""

import pytest

from slrt.commands import Command, parse


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        # residents
        ("CEK 48213-7", Command("check", "482137")),
        ("cek 48213-7", Command("check", "482137")),
        ("Cek482137", Command("check", "482137")),
        ("CEK  48213 7", Command("check", "482137")),
        ("  cek\t48213.7  ", Command("check", "482137")),
        ("482137", Command("check", "482137")),  # a bare code from a resident means CEK
        ("48213-7", Command("check", "482137")),
        ("STOP", Command("stop")),
        ("stop", Command("stop")),
        ("Berhenti", Command("stop")),
        ("MULAI", Command("start")),
        ("1", Command("answer", "1")),
        (" 2 ", Command("answer", "2")),
        # agency contacts: codes or digest positions, notes kept as written
        ("TERIMA 48213-7", Command("accept", "482137")),
        ("terima 2", Command("accept", "2")),
        ("PROSES48213-7", Command("in_process", "482137")),
        ("SELESAI 2", Command("complete", "2")),
        ("selesai 48213-7 Sudah dilayani di loket 3", Command("complete", "482137", "Sudah dilayani di loket 3")),
        ("Selesai 12 kartu sudah jadi", Command("complete", "12", "kartu sudah jadi")),
        ("TOLAK 48213-7 bukan wilayah kami", Command("reject", "482137", "bukan wilayah kami")),
        ("tolak 3 Dokumen KK tidak ada", Command("reject", "3", "Dokumen KK tidak ada")),
        # missing reference: the action is known, the reply will ask for the code
        ("SELESAI", Command("complete")),
        ("TOLAK", Command("reject")),
        # not commands
        ("", Command("unknown")),
        ("   ", Command("unknown")),
        ("halo pak", Command("unknown")),
        ("STOP sekarang", Command("unknown")),
        ("CEK 2", Command("unknown")),  # a position means nothing to a resident's CEK
        ("CEK 48213-7 tolong", Command("unknown")),
        ("12", Command("unknown")),
        (None, Command("unknown")),
    ],
)
def test_commands_are_read_as_people_type_them(typed, expected):
    assert parse(typed) == expected


def test_positions_and_codes_are_told_apart():
    assert parse("SELESAI 2").is_position
    assert not parse("SELESAI 48213-7").is_position
