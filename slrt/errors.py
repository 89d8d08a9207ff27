"""Domain errors: each carries a message for the user, translated at display time."""

from __future__ import annotations

from flask_babel import LazyString


class DomainError(Exception):
    """A rule of the domain refused the request; nothing was changed.

    ``message`` is a lazy translatable string (English msgid, Indonesian by default),
    so ``str(error)`` speaks the language of whoever reads it.
    """

    def __init__(self, message: LazyString | str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: The input field the error is about, so a form can show it beside it.
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


class ValidationError(DomainError):
    """Input that does not parse or is not acceptable (a wrong NIK, a landline...)."""


class IllegalTransition(DomainError):
    """The record is not in a state that allows this move."""


class PermissionDenied(DomainError):
    """The actor's role or unit does not allow this move."""


class NotFound(DomainError):
    """No such record (or none the actor may see)."""


class ConcurrentChange(DomainError):
    """Someone else saved the same record first; reload and decide again."""
