"""Refresh the catalogue template and the Indonesian catalogue from the code.

Run ``.venv/bin/python slrt/translations/update.py`` after adding or changing a message;
then translate the new ``msgstr ""`` entries in id/LC_MESSAGES/messages.po.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

subprocess.run(
    [BIN / "pybabel", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "-k", "lazy_ngettext:1,2",
     "--no-location", "--sort-output", "--omit-header", "--ignore-dirs=.venv instance migrations tests",
     "-o", "slrt/translations/messages.pot", "."],
    cwd=ROOT, check=True,
)
po = ROOT / "slrt/translations/id/LC_MESSAGES/messages.po"
command = "update" if po.exists() else "init"
subprocess.run(
    [BIN / "pybabel", command, "-i", "slrt/translations/messages.pot", "-d", "slrt/translations", "-l", "id",
     *(["--no-fuzzy-matching", "--ignore-obsolete"] if command == "update" else [])],
    cwd=ROOT, check=True,
)
