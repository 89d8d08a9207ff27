"""A demo district: Kabupaten Blora, its Puskesos, partner agencies and a year of SLRT work.

``data`` says what the district is (plain values); ``people`` and ``stories`` draw its
residents and case histories from seeded random streams; ``build`` turns them into rows
through the domain functions, on the domain clock stopped at each moment of the history.
"""

from __future__ import annotations

from typing import NamedTuple

from passlib.totp import TOTP

from slrt.demo.build import seed
from slrt.demo.data import DEMO_AUTHENTICATOR_KEY, DEMO_LOGINS, setup_sheet
from slrt.models.enums import Role

__all__ = ["DemoLogin", "authenticator_code", "logins", "seed"]


class DemoLogin(NamedTuple):
    role: str
    username: str
    password: str
    #: The unit's name: front office works at a Puskesos and at the secretariat.
    unit: str
    #: The authenticator app's key (base32) of an account that signs in with a code too; None otherwise.
    authenticator_key: str | None


def logins() -> list[DemoLogin]:
    """Return the demo logins: every role, and front office at a Puskesos and at the secretariat."""
    units = {row["Nama pengguna"]: row["Unit"] for row in setup_sheet("petugas.csv")}
    return [DemoLogin(role.value, username, password, units[username],
                      DEMO_AUTHENTICATOR_KEY if role == Role.MANAGER else None)
            for role, username, password in DEMO_LOGINS]


def authenticator_code() -> str:
    """The code an authenticator app holding the demo manager's key shows now."""
    return TOTP(key=DEMO_AUTHENTICATOR_KEY, format="base32").generate().token
