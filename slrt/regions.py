"""The official region list (Kemendagri codes) and setting a regency up from it.

The list ships in ``slrt/data`` (see its NOTICE): one row per province (``33``), regency or
city (``33.16``), district/kecamatan (``33.16.01``) and village (``33.16.01.2003``; last four
digits 1xxx kelurahan, 2xxx desa, 3xxx desa adat). :func:`load_regions` reads it streamed and brings the
stored regions in line with it, for the whole country or for one regency and its province:
new codes are added, changed names renamed, codes the list no longer has marked inactive
(never deleted: residents, households and posts point to them), codes back in the list made
active again. :func:`setup_district` also creates the regency's secretariat and the default
service catalogue. Both flush; the caller commits.
"""

from __future__ import annotations

import csv
import gzip
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, insert, or_, select, update

from slrt import catalogue, text, units
from slrt.errors import ValidationError
from slrt.extensions import db
from slrt.models import Region, Unit
from slrt.models.enums import RegionLevel, UnitKind, VillageKind

#: The list shipped with the project (Kepmendagri 300.2.2-2138/2025).
OFFICIAL_LIST = Path(__file__).parent / "data" / "wilayah-kemendagri-2025.csv.gz"

#: A code's level from its length: 33 / 33.16 / 33.16.01 / 33.16.01.2003.
LEVEL_OF_LENGTH = {2: RegionLevel.PROVINCE, 5: RegionLevel.REGENCY, 8: RegionLevel.DISTRICT,
                   13: RegionLevel.VILLAGE}
#: The length of a level's parent code.
PARENT_LENGTH = {RegionLevel.REGENCY: 2, RegionLevel.DISTRICT: 5, RegionLevel.VILLAGE: 8}
_CODE = re.compile(r"\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?")
_REGENCY_CODE = re.compile(r"\d{2}\.\d{2}")

#: Rows written per round trip.
BATCH = 2000


def level_of(code: str) -> RegionLevel | None:
    """The level of a well-formed Kemendagri code, None for anything else."""
    return LEVEL_OF_LENGTH.get(len(code)) if _CODE.fullmatch(code) else None


def village_kind(code: str) -> VillageKind | None:
    """Kelurahan (1xxx), desa (2xxx) or desa adat (3xxx) from a village code; None for another level."""
    if level_of(code) != RegionLevel.VILLAGE:
        return None
    return {"1": VillageKind.URBAN, "2": VillageKind.RURAL, "3": VillageKind.CUSTOMARY}.get(code[9])


def read_list(path: Path = OFFICIAL_LIST) -> Iterator[tuple[str, str]]:
    """(code, name) of each row of a region list (gzip or plain CSV ``kode,nama``), streamed."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as lines:
        rows = csv.reader(lines)
        next(rows, None)  # the header
        for number, row in enumerate(rows, start=2):
            if len(row) != 2 or level_of(row[0].strip()) is None or not row[1].strip():
                raise ValidationError(_l("Line %(line)s of the region list is not a code and a name.", line=number))
            yield row[0].strip(), row[1].strip()


@dataclass
class LoadResult:
    """What :func:`load_regions` did."""

    added: int = 0
    renamed: int = 0
    deactivated: int = 0
    reactivated: int = 0
    unchanged: int = 0
    #: Regions of each level in the list (within the scope loaded).
    listed: Counter = field(default_factory=Counter)
    seconds: float = 0.0


def _in_scope(regency: str | None):
    """A test of a code (and the SQL condition) for the regions a load covers."""
    if regency is None:
        return (lambda code: True), None
    province = regency[:2]
    return ((lambda code: code in (province, regency) or code.startswith(f"{regency}.")),
            or_(Region.code.in_((province, regency)), Region.code.startswith(f"{regency}.", autoescape=True)))


def load_regions(path: Path = OFFICIAL_LIST, *, regency: str | None = None) -> LoadResult:
    """Bring the stored regions in line with the list: all of them, or one regency (with its province).

    Adds what is new, renames what changed name, marks inactive what the list no longer has
    (never deletes) and active again what came back. Streamed and written in batches; the
    list is in code order (as shipped), so a regency's load stops reading after its rows.
    """
    started = time.perf_counter()
    wanted, condition = _in_scope(regency)
    query = select(Region.code, Region.id, Region.name, Region.is_active)
    stored = {code: (rid, name, active) for code, rid, name, active in
              db.session.execute(query if condition is None else query.where(condition))}
    result, seen = LoadResult(), set()
    table = Region.__table__
    new, renames, revived = [], [], []

    def write(final: bool = False) -> None:
        if new and (final or len(new) >= BATCH):
            db.session.execute(insert(table), new)
            new.clear()
        if renames and (final or len(renames) >= BATCH):
            db.session.execute(update(table).where(table.c.id == bindparam("rid")).values(name=bindparam("new")),
                               renames)
            renames.clear()

    db.session.flush()
    for code, name in read_list(path):
        if not wanted(code):
            if regency is not None and code > regency and not code.startswith(regency):
                break  # the list is in code order: the regency's rows are behind us
            continue
        level = level_of(code)
        result.listed[level] += 1
        seen.add(code)
        name = name[:Region.name.type.length]
        row = stored.get(code)
        if row is None:
            new.append({"code": code, "name": name, "level": level.value, "parent_id": None,
                        "village_kind": (kind.value if (kind := village_kind(code)) else None), "is_active": True})
            result.added += 1
        else:
            rid, old_name, active = row
            if old_name != name:
                renames.append({"rid": rid, "new": name})
                result.renamed += 1
            if not active:
                revived.append(rid)
                result.reactivated += 1
            elif old_name == name:
                result.unchanged += 1
        write()
    write(final=True)
    gone = [rid for code, (rid, _name, active) in stored.items() if active and code not in seen]
    for ids, active in ((gone, False), (revived, True)):
        for start in range(0, len(ids), BATCH):
            db.session.execute(update(table).where(table.c.id.in_(ids[start:start + BATCH])).values(is_active=active))
    result.deactivated = len(gone)
    _link_parents()
    db.session.expire_all()  # rows written around the ORM
    result.seconds = time.perf_counter() - started
    return result


def _link_parents() -> None:
    """Point every region without a parent to the region its code starts with (one statement per level)."""
    table = Region.__table__
    parent = table.alias("parent")
    for level, length in PARENT_LENGTH.items():
        found = select(parent.c.id).where(parent.c.code == func.substr(table.c.code, 1, length)).scalar_subquery()
        db.session.execute(update(table).where(table.c.level == level.value, table.c.parent_id.is_(None))
                           .values(parent_id=found))


def find_in_list(code: str, path: Path = OFFICIAL_LIST) -> str | None:
    """The name of ``code`` in the list, None when it is not there (the list is in code order)."""
    for listed, name in read_list(path):
        if listed == code:
            return name
        if listed > code and not code.startswith(listed):
            return None
    return None


@dataclass
class SetupResult:
    """What :func:`setup_district` did."""

    regency: Region
    regions: LoadResult
    secretariat: Unit
    secretariat_created: bool
    catalogue: catalogue.CatalogueCreated
    seconds: float = 0.0


def check_regency_code(code: str | None) -> str:
    """The code of a regency or city (``33.16``), or ValidationError."""
    code = (code or "").strip()
    if not _REGENCY_CODE.fullmatch(code):
        raise ValidationError(_l("%(code)s is not the code of a regency or city: two digits, a dot and two digits, "
                                 "e.g. 33.16 for Kabupaten Blora.", code=code[:20] or "''"), field="code")
    return code


def setup_district(code: str, *, secretariat: str | None = None, address: str | None = None,
                   phone: str | None = None, path: Path = OFFICIAL_LIST) -> SetupResult:
    """Set up (or bring up to date) one regency: its province, districts and villages from the list,
    its secretariat, and the default service catalogue when there is none. Safe to run again."""
    started = time.perf_counter()
    code = check_regency_code(code)
    if find_in_list(code, path) is None:
        raise ValidationError(_l("There is no regency or city %(code)s in the official region list.", code=code),
                              field="code")
    loaded = load_regions(path, regency=code)
    regency = db.session.scalar(select(Region).where(Region.code == code))
    unit = units.secretariat_of(regency)
    created = unit is None
    if created:
        name = text.clean(secretariat or f"Sekretariat SLRT {regency.name}", Unit.name, field="secretariat",
                          label=_l("Secretariat"))
        if db.session.scalar(select(Unit.id).where(func.lower(Unit.name) == name.lower())):
            raise ValidationError(_l("A unit named %(name)s exists already.", name=name), field="secretariat")
        unit = Unit(name=name, kind=UnitKind.SECRETARIAT, region=regency)
        db.session.add(unit)
    if address is not None:
        unit.address = text.clean(address, Unit.address, field="address", label=_l("Address")) or None
    if phone is not None:
        unit.phone = text.clean(phone, Unit.phone, field="phone", label=_l("Phone")) or None
    db.session.flush()
    made = catalogue.create_default_catalogue()
    return SetupResult(regency=regency, regions=loaded, secretariat=unit, secretariat_created=created,
                       catalogue=made, seconds=time.perf_counter() - started)
