"""What every list shows alike: codes that never wrap, and the link a click on the row follows."""

from __future__ import annotations

from markupsafe import Markup

from slrt.codes import format_code


def code_link(url: str, code: str, *, opens_row: bool = True) -> Markup:
    """``48213-7`` as a link to ``url``, kept on one line; ``opens_row``: a click anywhere on the
    list row follows it too (slrt/static/admin.js)."""
    return Markup('<a class="code" href="{0}"{1}>{2}</a>').format(
        url, Markup(" data-row-open") if opens_row else "", format_code(code))
