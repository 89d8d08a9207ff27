"""A demo district: Kabupaten Blora, its Puskesos, partner agencies and a year of SLRT work.

``data`` says what the district is (plain values); ``people`` and ``stories`` draw its
residents and case histories from seeded random streams; ``build`` turns them into rows
through the domain functions, on the domain clock stopped at each moment of the history.
"""

from __future__ import annotations

from slrt.demo.build import seed
from slrt.demo.data import DEMO_LOGINS

__all__ = ["logins", "seed"]


def logins() -> list[tuple[str, str, str]]:
    """Return (role, username, password) of the demo logins, one per role."""
    return [(role.value, username, password) for role, username, password, _, _ in DEMO_LOGINS]
