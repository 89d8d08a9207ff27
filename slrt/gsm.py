"""GSM 03.38 text: what fits in one SMS segment, and how to keep text in GSM-7.

A message entirely in the GSM-7 alphabet takes 160 characters in one segment, 153 per
segment when split (escape characters count twice); one character outside it turns the
whole message into UCS-2: 70 characters, 67 per segment. Curly quotes pasted from a
word processor are the usual culprit, so templates are normalized before counting.
"""

from __future__ import annotations

from slrt.models.enums import SmsEncoding

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: Characters reached through the escape code: each costs two septets.
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

#: Look-alikes replaced before sending so the text stays GSM-7.
REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u2026": "...", "\u00a0": " ", "\u2007": " ", "\u202f": " ", "\u200b": "", "\u2022": "-",
    "\t": " ", "\u00b7": "-",
}


def normalize(text: str) -> str:
    """Replace typographic look-alikes with GSM-7 characters; leave everything else."""
    return "".join(REPLACEMENTS.get(ch, ch) for ch in text)


def encoding_of(text: str) -> SmsEncoding:
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text):
        return SmsEncoding.GSM7
    return SmsEncoding.UCS2


def outside_gsm7(text: str) -> list[str]:
    """The characters of ``text`` GSM-7 cannot carry, each once in order: any one makes the SMS UCS-2."""
    return list(dict.fromkeys(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENDED))


def segment_size(encoding: SmsEncoding, segments: int = 1) -> int:
    """Characters (GSM-7 septets or UCS-2 units) one SMS part holds: less when a message is split."""
    if encoding == SmsEncoding.GSM7:
        return 160 if segments <= 1 else 153
    return 70 if segments <= 1 else 67


def length_units(text: str, encoding: SmsEncoding) -> int:
    """Septets for GSM-7 (escapes count two); UTF-16 code units for UCS-2."""
    if encoding == SmsEncoding.GSM7:
        return sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
    return len(text.encode("utf-16-le")) // 2


def truncate(text: str, max_segments: int, ellipsis: str = "..") -> str:
    """``text`` as is if it is billed as at most ``max_segments``, else its longest start that is, with ``ellipsis``."""
    if segments(text)[1] <= max_segments:
        return text
    shortest, longest = 0, len(text)
    while shortest < longest:  # a shorter start never takes more segments: search the longest that fits
        middle = (shortest + longest + 1) // 2
        if segments(text[:middle].rstrip() + ellipsis)[1] <= max_segments:
            shortest = middle
        else:
            longest = middle - 1
    return text[:shortest].rstrip() + ellipsis


def segments(text: str) -> tuple[SmsEncoding, int]:
    """Return the encoding and the number of segments ``text`` is billed as."""
    encoding = encoding_of(text)
    units = length_units(text, encoding)
    if units <= segment_size(encoding):
        return encoding, 1
    return encoding, -(-units // segment_size(encoding, 2))
