"""Puskesos posts: opening one for a village or a group of villages, changing what it covers, closing it.

A post sits below its regency's secretariat and serves its own village (``Unit.region``) and
any more villages listed for it (``Unit.villages``), all in the secretariat's regency. Only a
manager whose unit covers the secretariat keeps its posts. A closed (deactivated) post stays
below its secretariat, so its cases, referrals and residents stay in the secretariat's sight
(slrt.access); it takes no new staff or cases. Each function flushes; the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from slrt import text
from slrt.access import Actor, System, check_active, staff_covers
from slrt.errors import PermissionDenied, ValidationError
from slrt.extensions import db
from slrt.models import Region, Staff, Unit
from slrt.models.enums import RegionLevel, Role, UnitKind


def find(value: str) -> list[Unit]:
    """The units named ``value`` (any letter case) or sitting on the region coded ``value`` (33.16 for a
    regency's secretariat, a village's code for its post): none, one, or two when it is ambiguous."""
    value = " ".join((value or "").split())
    return list(db.session.scalars(select(Unit).join(Unit.region).where(or_(
        func.lower(Unit.name) == value.lower(), Region.code == value)).order_by(Unit.id).limit(2)))


def secretariat_of(regency: Region | None) -> Unit | None:
    """The secretariat set up for ``regency`` (``setup-district``), or None."""
    if regency is None:
        return None
    return db.session.scalar(select(Unit).where(Unit.kind == UnitKind.SECRETARIAT, Unit.region_id == regency.id))


def check_keeps_posts(actor: Actor, secretariat: Unit) -> None:
    """Refuse anyone but a manager whose unit covers ``secretariat`` (or the system)."""
    if isinstance(actor, System):
        return
    check_active(actor)
    if not isinstance(actor, Staff) or Role(actor.role) != Role.MANAGER:
        raise PermissionDenied(_l("Only a manager may keep Puskesos posts."))
    if not staff_covers(actor, secretariat):
        raise PermissionDenied(_l("%(unit)s is not one of your units.", unit=secretariat.name))


def _check_villages(secretariat: Unit, villages: Iterable[Region]) -> list[Region]:
    """The villages, each an active village of the secretariat's regency, or ValidationError."""
    area = f"{secretariat.region.code}."
    checked = []
    for village in villages:
        if village is None:
            continue
        if village.level != RegionLevel.VILLAGE or not village.code.startswith(area):
            raise ValidationError(_l("%(village)s is not a village of %(regency)s.", village=village.name,
                                     regency=secretariat.region.name), field="villages")
        if not village.is_active:
            raise ValidationError(_l("%(village)s is no longer in the official region list.",
                                     village=village.name), field="villages")
        if village not in checked:
            checked.append(village)
    return checked


def _secretariat(unit: Unit | None) -> Unit:
    if unit is None or unit.kind != UnitKind.SECRETARIAT:
        raise ValidationError(_l("Choose the secretariat the post reports to."), field="parent")
    if not unit.is_active:
        raise ValidationError(_l("%(unit)s is not active.", unit=unit.name), field="parent")
    return unit


def _name(name: str | None, unit: Unit | None = None) -> str:
    name = text.clean(name, Unit.name, field="name", label=_l("Name"))
    if not name:
        raise ValidationError(_l("A post needs a name."), field="name")
    taken = select(Unit.id).where(func.lower(Unit.name) == name.lower())
    if unit is not None and unit.id is not None:
        taken = taken.where(Unit.id != unit.id)
    if db.session.scalar(taken):
        raise ValidationError(_l("A unit named %(name)s exists already.", name=name), field="name")
    return name


def _details(unit: Unit, address: str | None, phone: str | None) -> None:
    unit.address = text.clean(address, Unit.address, field="address", label=_l("Address")) or None
    unit.phone = text.clean(phone, Unit.phone, field="phone", label=_l("Phone")) or None


def create_post(*, name: str, secretariat: Unit | None, village: Region | None, actor: Actor,
                more_villages: Iterable[Region] = (), address: str | None = None,
                phone: str | None = None) -> Unit:
    """Open a Puskesos post below ``secretariat`` for ``village`` and any ``more_villages``."""
    secretariat = _secretariat(secretariat)
    check_keeps_posts(actor, secretariat)
    if village is None:
        raise ValidationError(_l("Choose the village where the post is."), field="region")
    (village,) = _check_villages(secretariat, [village])
    post = Unit(name=_name(name), kind=UnitKind.PUSKESOS, region=village, parent=secretariat)
    post.villages = [v for v in _check_villages(secretariat, more_villages) if v is not village]
    _details(post, address, phone)
    db.session.add(post)
    db.session.flush()
    return post


def update_post(post: Unit, *, name: str, village: Region | None, actor: Actor,
                more_villages: Iterable[Region] = (), address: str | None = None,
                phone: str | None = None) -> Unit:
    """Change a post's name, village, the more villages it serves, its address and phone."""
    if post.kind != UnitKind.PUSKESOS:
        raise ValidationError(_l("Only a Puskesos post is changed here."))
    secretariat = post.parent
    check_keeps_posts(actor, secretariat)
    if village is None:
        raise ValidationError(_l("Choose the village where the post is."), field="region")
    (village,) = _check_villages(secretariat, [village])
    post.name = _name(name, post)
    post.region = village
    post.villages = [v for v in _check_villages(secretariat, more_villages) if v is not village]
    _details(post, address, phone)
    db.session.flush()
    return post


def update_secretariat(secretariat: Unit, *, name: str, actor: Actor, address: str | None = None,
                       phone: str | None = None) -> Unit:
    """Change a secretariat's name, address and phone (the number SMS name when a post has none).
    Its regency stays: a secretariat is made by ``setup-district``, never moved."""
    if secretariat.kind != UnitKind.SECRETARIAT:
        raise ValidationError(_l("Only a secretariat is changed here."))
    check_keeps_posts(actor, secretariat)
    secretariat.name = _name(name, secretariat)
    _details(secretariat, address, phone)
    db.session.flush()
    return secretariat


def set_head(unit: Unit, *, name: str | None, nip: str | None, actor: Actor) -> Unit:
    """Say who signs the unit's referral letters: the head of office's name and NIP (both may be empty)."""
    check_keeps_posts(actor, unit if unit.kind == UnitKind.SECRETARIAT else unit.parent)
    unit.head_name = text.clean(name, Unit.head_name, field="head_name", label=_l("Head of office")) or None
    digits = "".join((nip or "").split())
    if digits and not (digits.isascii() and digits.isdigit() and len(digits) == 18):
        raise ValidationError(_l("A NIP is 18 digits (e.g. 19760312 200501 1 004)."), field="head_nip")
    unit.head_nip = digits or None
    db.session.flush()
    return unit


def deactivate_post(post: Unit, *, actor: Actor) -> None:
    """Close a post. Its records stay, seen by the secretariat; its staff must be moved or deactivated first."""
    if post.kind != UnitKind.PUSKESOS:
        raise ValidationError(_l("Only a Puskesos post can be closed; a secretariat stays."))
    check_keeps_posts(actor, post.parent)
    staff = db.session.scalar(select(func.count()).select_from(Staff).where(Staff.unit_id == post.id, Staff.active))
    if staff:
        raise ValidationError(_l("%(unit)s still has %(count)s active staff accounts: move them to another unit "
                                 "or deactivate them first.", unit=post.name, count=staff))
    post.is_active = False
    db.session.flush()


def activate_post(post: Unit, *, actor: Actor) -> None:
    """Open a closed post again."""
    check_keeps_posts(actor, post.parent or post)
    post.is_active = True
    db.session.flush()
