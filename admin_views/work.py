"""One unit of work for a screen: call the domain, commit; on its refusal roll back and say why."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from flask import flash
from flask_security import current_user

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


def commit_each(rows: Iterable[T], change: Callable[[T, object], object], name: Callable[[T], str],
                success: str) -> int:
    """Apply ``change(row, actor)`` to each selected row, each in a savepoint of its own, and commit.

    A row the domain refuses is flashed as an error under its ``name`` and skipped, the others
    are done; ``success`` is flashed when any was. Returns how many were done.
    """
    actor = current_user._get_current_object()
    done = 0
    for row in rows:
        try:
            with db.session.begin_nested():
                change(row, actor)
            done += 1
        except DomainError as exc:
            flash(f"{name(row)}: {exc}", "error")
    db.session.commit()
    if done:
        flash(success, "success")
    return done
