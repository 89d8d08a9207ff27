"""Merge translations from a Python dict {msgid: msgstr} into the Indonesian catalogue.

Usage: ``.venv/bin/python slrt/translations/fill.py path/to/dict.py`` (the file defines ``T``).
"""

import runpy
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).parent / "id/LC_MESSAGES/messages.po"


def main(source: str) -> None:
    table = runpy.run_path(source)["T"]
    with open(PO, "rb") as fh:
        catalog = read_po(fh)
    missing = []
    for message in catalog:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        if key in table:
            value = table[key]
            message.string = (value, value) if isinstance(message.id, tuple) else value
            message.flags.discard("fuzzy")
        elif not (all(message.string) if isinstance(message.string, tuple) else message.string):
            missing.append(key)
    with open(PO, "wb") as fh:
        write_po(fh, catalog, sort_output=True)
    print("still untranslated:", missing)


if __name__ == "__main__":
    main(sys.argv[1])
