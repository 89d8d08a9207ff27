"""What sign-in keeps besides the accounts: client addresses that fail, and sessions signed out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from slrt.models.base import Base


class SignInAddress(Base):
    """A client address whose sign-ins failed; too many failures and it is refused for a while.

    Counted apart from each account's own lock, so one address cannot go on locking account
    after account (see :mod:`slrt.sign_in`).
    """

    __tablename__ = "sign_in_address"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The client's IP address, as the app sees it behind SLRT_PROXY_HOPS proxies.
    address: Mapped[str] = mapped_column(String(64), unique=True)
    #: Failures since the count last started again (after a lock, or a quiet lockout period).
    failed_count: Mapped[int] = mapped_column(default=0)
    #: Rows quiet for longer than the lockout period are deleted.
    last_failed_at: Mapped[datetime] = mapped_column(index=True)
    #: Every sign-in from the address is refused until then.
    locked_until: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<SignInAddress {self.id} {self.failed_count} locked_until={self.locked_until}>"


class EndedSession(Base):
    """A signed-in session that was signed out: its cookie never signs anyone in again.

    Session cookies are signed, not stored, so a copy of one outlives the sign-out unless its
    end is kept here (and checked on every request).
    """

    __tablename__ = "ended_session"

    #: The random token the session carried from sign-in.
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: By then every copy of the cookie has expired (idle timeout): the row may go.
    forget_at: Mapped[datetime] = mapped_column(index=True)

    def __repr__(self) -> str:
        return f"<EndedSession forget_at={self.forget_at}>"
