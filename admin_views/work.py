"""One unit of work for a screen: call the domain, commit; on its refusal roll back and say why."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import flash

from slrt.errors import DomainError
from slrt.extensions import db

T = TypeVar("T")


def commit(do: Callable[[], T]) -> tuple[T | None, DomainError | None]:
    """Run ``do`` (a domain call) and commit; a refusal changes nothing and is flashed as an error.

    Returns what ``do`` returned and None, or None and the refusal.
    """
    try:
        result = do()
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return None, exc
    return result, None
