"""Reading SMS commands: what a resident or an agency contact asked, from what they typed.

Keypad phones and hurried thumbs: commands are read case-insensitively, with extra,
missing or odd spaces ("CEK1234567", "cek  48213-7", "Selesai 2 sudah dilayani"). This
module only reads; it neither looks anything up nor changes anything. A code is kept
as typed digits and validated (check digit) by whoever acts on it, so a mistyped code
gets an explanatory reply instead of finding another record.

Grammar (the verb first, then what it needs):

    CEK <ticket>            resident: the case's status (a bare code means CEK too)
    STOP | BERHENTI         resident: no more notices
    MULAI                   resident: notices again
    1 | 2                   resident: "yes, received" / "not yet" to a closure question
    TERIMA <ref>            agency: accept
    PROSES <ref>            agency: being processed
    SELESAI <ref> [note]    agency: completed
    TOLAK <ref> <reason>    agency: rejected

<ref> is a referral code (48213-7) or its position (1, 2, ...) in the last digest sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Verb as typed -> action. Longest first, so a verb glued to its code still reads.
VERBS: dict[str, str] = {
    "BERHENTI": "stop",
    "SELESAI": "complete",
    "TERIMA": "accept",
    "PROSES": "in_process",
    "MULAI": "start",
    "TOLAK": "reject",
    "STOP": "stop",
    "CEK": "check",
}
#: Digest positions are short; codes have at least five digits.
MAX_POSITION_DIGITS = 2

# A reference: digits with the separators people type ("48213-7", "48213.7"), or a body and
# its check digit split by one space ("48213 7").
# ASCII digits only ([0-9], not \d): other scripts' digits are no code of ours.
_REFERENCE = re.compile(r"^([0-9][0-9\-./]*[0-9]|[0-9])(?:\s([0-9])(?![0-9]))?")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Command:
    """One SMS read as a command.

    ``action``: check, stop, start, answer, accept, in_process, complete, reject, or
    unknown. ``reference``: the digits typed (a code to validate, or a position);
    ``note``: the free text after it (SELESAI's note, TOLAK's reason); for "answer",
    ``reference`` is "1" or "2".
    """

    action: str
    reference: str | None = None
    note: str | None = None

    @property
    def is_position(self) -> bool:
        """The reference is a place in the last digest ("SELESAI 2"), not a code."""
        return self.reference is not None and len(self.reference) <= MAX_POSITION_DIGITS


UNKNOWN = Command("unknown")


def parse(text: str | None) -> Command:
    """Read one SMS; anything that is not a command is ``UNKNOWN`` (answered with help)."""
    message = _SPACES.sub(" ", (text or "").strip()).upper()
    if not message:
        return UNKNOWN
    if message in ("1", "2"):
        return Command("answer", message)
    verb = next((v for v in VERBS if message.startswith(v)), None)
    if verb is None:
        reference, rest = _reference(message)
        if reference and len(reference) > MAX_POSITION_DIGITS and not rest:
            return Command("check", reference)  # a bare code from a resident means CEK
        return UNKNOWN
    action, rest = VERBS[verb], message[len(verb):].strip()
    if action in ("stop", "start"):
        return Command(action) if not rest else UNKNOWN
    reference, note = _reference(rest)
    if reference is None:
        return Command(action)  # the reply says what is missing
    if action == "check" and (note or len(reference) <= MAX_POSITION_DIGITS):
        return UNKNOWN
    original_note = _original_case(text, note) if note else None
    return Command(action, reference, original_note or None)


def _reference(text: str) -> tuple[str | None, str]:
    """The leading reference's digits and the text after it."""
    match = _REFERENCE.match(text)
    if match is None:
        return None, text
    digits = "".join(ch for ch in match.group(1) if ch in "0123456789") + (match.group(2) or "")
    return digits, text[match.end():].strip()


def _original_case(text: str | None, upper_tail: str) -> str:
    """The note as the sender wrote it (not upper-cased): the same tail of the original text."""
    original = _SPACES.sub(" ", (text or "").strip())
    return original[len(original) - len(upper_tail):] if original.upper().endswith(upper_tail) else upper_tail
