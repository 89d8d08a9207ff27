"""Every message the code shows staff has its Indonesian translation."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
KEYWORDS = {"_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2), "_": None, "gettext": None}


def _code_messages() -> set[str]:
    found = set()
    for folder in ("slrt", "admin_views", "tasks", "sms"):
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / folder, METHODS, keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_is_translated_to_indonesian():
    with open(ROOT / "slrt/translations/id/LC_MESSAGES/messages.po", "rb") as fh:
        catalog = read_po(fh)
    translated = {
        m.id[0] if isinstance(m.id, tuple) else m.id
        for m in catalog
        if m.id and all(m.string if isinstance(m.string, tuple) else [m.string]) and not m.fuzzy
    }
    missing = sorted(_code_messages() - translated)
    assert missing == [], "run slrt/translations/update.py and translate: " + repr(missing)
