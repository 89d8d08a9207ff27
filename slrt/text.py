"""Text that people and SMS write: a maximum length and no control characters, checked in one place.

The maximum is the column's: a VARCHAR's length, or ``info["max_length"]`` on a TEXT column.
SQLite does not enforce a VARCHAR's length and PostgreSQL answers a longer value with an
error, so the domain checks first and says what is wrong in the reader's language. NUL
(which PostgreSQL cannot store), the other control characters and the invisible characters
that reorder text on screen are refused; a multi-line text (a case summary, a note) keeps
its line breaks and tabs. Text we must keep whatever it holds (a received SMS) is scrubbed
instead of refused (:func:`scrub`).
"""

from __future__ import annotations

import unicodedata

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column

from slrt.errors import ValidationError

#: Characters refused in any text besides control characters: surrogates (no UTF-8 for them),
#: line and paragraph separators, and the bidirectional overrides that make text read otherwise.
_INVISIBLE = frozenset("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: Kept in a multi-line text.
_LAYOUT = frozenset("\n\t")


def column_of(column) -> Column:
    """The table column behind ``Model.attribute`` (or the column itself)."""
    prop = getattr(column, "property", None)
    return prop.columns[0] if prop is not None else column


def max_length(column) -> int:
    """The most characters ``column`` holds (``Resident.address`` -> 255)."""
    col = column_of(column)
    limit = getattr(col.type, "length", None) or col.info.get("max_length")
    if not limit:
        raise LookupError(f"{col} has no maximum length: give the column info={{'max_length': n}}")
    return limit


def _refused(ch: str, multiline: bool) -> bool:
    if multiline and ch in _LAYOUT:
        return False
    return ch in _INVISIBLE or unicodedata.category(ch) in ("Cc", "Cs")


def _capitalized(label) -> str:
    shown = str(label)
    return shown[:1].upper() + shown[1:]


def clean(value: str | None, column, *, field: str | None = None, label: LazyString | str | None = None,
          multiline: bool = False) -> str:
    """Return ``value`` stripped, or raise ValidationError if it holds a control character or is too long.

    ``column`` is where it will be stored (``Resident.address``); ``label`` names it in the
    message ("Alamat terlalu panjang ..."); ``multiline`` keeps line breaks and tabs (Windows
    line ends become plain ones). None gives "".
    """
    text = value if isinstance(value, str) else "" if value is None else str(value)
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.strip()
    # Capitalized when shown ("catatan" starts the sentence); not ``label or``: that would translate it now.
    label = LazyString(_capitalized, _l("The text") if label is None else label)
    if any(_refused(ch, multiline) for ch in text):
        raise ValidationError(_l("%(label)s contains a control character that cannot be stored; "
                                 "type it again without it.", label=label), field=field)
    limit = max_length(column)
    if len(text) > limit:
        raise ValidationError(_l("%(label)s is too long: at most %(max)s characters (%(count)s entered).",
                                 label=label, max=limit, count=len(text)), field=field)
    return text


def scrub(value: str | None, column, *, multiline: bool = True) -> str:
    """Return ``value`` made storable: control characters become spaces, the rest is cut to fit ``column``."""
    text = value if isinstance(value, str) else "" if value is None else str(value)
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(" " if _refused(ch, multiline) else ch for ch in text)
    return text[:max_length(column)]
