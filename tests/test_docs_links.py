"""The README and docs/ point only at files in the repository (a fresh clone has nothing beside it)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_link_resolves_inside_the_repository():
    for doc in DOCS:
        text = doc.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+://|mailto:|#", target):
                continue
            path = (doc.parent / target.split("#", 1)[0]).resolve()
            assert path.is_relative_to(ROOT) and path.exists(), f"{doc.name}: {target}"
        # paths written as code: none leaves the repository
        assert not re.findall(r"`\.\./[^`]*`", text), f"{doc.name} names a file outside the repository"
        folders = "slrt|admin_views|tasks|sms|fakes|tests|bench|migrations|docs"
        for named in re.findall(rf"`((?:{folders})/[^`\s*<]*)`", text):
            assert (ROOT / named.rstrip("/")).exists(), f"{doc.name}: {named}"
