"""Operator commands, through Flask's CLI runner."""

import re
import shlex
from pathlib import Path

import pytest
from sqlalchemy import select, update

from slrt import residents
from slrt.models import Resident, Staff


@pytest.fixture
def runner(app, db_session):
    return app.test_cli_runner()


def test_create_user_then_list_and_set_password(runner, district, db_session):
    result = runner.invoke(args=["slrt", "create-user", "rina", "--full-name", "Rina Puspitasari",
                                 "--role", "back_office", "--unit", "sekretariat slrt blora",
                                 "--phone", "0813-2555-0100", "--password", "panjang-sekali-1"])
    assert result.exit_code == 0, result.output
    assert "created rina (back_office, Sekretariat SLRT Blora)" in result.output
    user = db_session.scalar(select(Staff).where(Staff.username == "rina"))
    assert user.phone == "+6281325550100" and user.check_password("panjang-sekali-1")
    assert "rina" in runner.invoke(args=["slrt", "list-users"]).output

    assert runner.invoke(args=["slrt", "deactivate-user", "rina"]).exit_code == 0
    assert not user.is_active
    result = runner.invoke(args=["slrt", "set-password", "rina", "--password", "lain-lagi-2026"])
    assert result.exit_code == 0 and user.check_password("lain-lagi-2026") and user.is_active


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--unit", "Kantor Antah"], "no single unit named or coded 'Kantor Antah'"),
        (["--password", "pendek"], "Kata sandi minimal 10 karakter"),
        (["--phone", "0296 531234"], "nomor telepon rumah/kantor"),
    ],
)
def test_create_user_refuses_bad_input(runner, district, db_session, args, message):
    base = {"--full-name": "Rina P", "--role": "manager", "--unit": "Sekretariat SLRT Blora",
            "--password": "panjang-sekali-1"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [item for pair in base.items() for item in pair]
    result = runner.invoke(args=["slrt", "create-user", "rina", *flat])
    assert result.exit_code == 1
    assert message in result.output
    assert db_session.scalar(select(Staff).where(Staff.username == "rina")) is None


def test_due_date_skips_lebaran(runner):
    result = runner.invoke(args=["slrt", "due-date", "1", "--from", "2026-03-17"])
    assert result.output.strip() == "2026-03-25"


def test_check_reports_the_worker_state(runner, db_session):
    result = runner.invoke(args=["slrt", "check"])
    assert result.exit_code == 0
    assert "workers   : FAILING: no worker has recorded a heartbeat" in result.output
    assert "ready     : NO: workers, beat" in result.output
    assert runner.invoke(args=["slrt", "check", "--ready"]).exit_code == 1


def test_check_counts_residents_whose_household_or_village_is_gone(runner, district, db_session):
    """A resident's household and village have no foreign key in the database (migration 0026): rows
    deleted by hand are found by the operator's check."""
    from fakes.builders import make_resident

    resident = make_resident(district)
    db_session.commit()
    assert "menunjuk KK" not in runner.invoke(args=["slrt", "check"]).output
    assert residents.missing_references() == (0, 0)
    db_session.execute(update(Resident).where(Resident.id == resident.id)
                       .values(household_id=987654, village_id=987655))
    db_session.commit()
    assert residents.missing_references() == (1, 1)
    result = runner.invoke(args=["slrt", "check"])
    assert result.exit_code == 1
    assert "1 warga menunjuk KK dan 1 warga menunjuk desa yang tidak ada di basis data" in result.output
    assert "ready     :" in result.output  # the rest of the report is still printed


def test_sms_in_hands_an_sms_to_the_command_reader_and_shows_the_reply(runner, district, db_session):
    from fakes.builders import make_referral
    from slrt.codes import format_code
    from slrt.models import Referral
    from slrt.models.enums import ReferralStatus

    referral = make_referral(district)
    db_session.commit()
    printed = runner.invoke(args=["slrt", "demo-sms"]).output
    assert f"'CEK {format_code(referral.case.ticket)}'" in printed
    result = runner.invoke(args=["slrt", "sms-in", "--from", "0812-2555-0101",
                                 f"SELESAI {format_code(referral.code)} sudah aktif"])
    assert result.exit_code == 0, result.output
    assert "read as: cmd:complete" in result.output and "tercatat: selesai" in result.output
    assert db_session.get(Referral, referral.id, populate_existing=True).status == ReferralStatus.COMPLETED
    assert runner.invoke(args=["slrt", "sms-in", "--from", "021-555", "CEK 1"]).exit_code == 1


def test_the_printed_sms_lines_run_as_printed_from_the_repository_root(runner, district, db_session):
    from fakes.builders import make_referral

    make_referral(district)
    db_session.commit()
    printed = runner.invoke(args=["slrt", "demo-sms"]).output.splitlines()
    assert len(printed) == 2
    root = Path(__file__).resolve().parents[1]
    # `make` creates the virtualenv at .venv in the repository's root, where app.py is
    assert re.search(r"^VENV\s*:= \.venv$", (root / "Makefile").read_text(), re.M) and (root / "app.py").is_file()
    for line in printed:
        command = shlex.split(line.split(":", 1)[1])
        assert command[:4] == [".venv/bin/flask", "--app", "app", "slrt"], line
        result = runner.invoke(args=command[3:])  # what `flask --app app` hands the slrt group
        assert result.exit_code == 0 and "read as: cmd:" in result.output, (line, result.output)
