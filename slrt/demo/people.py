"""The demo's residents, drawn in advance: names, families, birth dates, NIK, KK numbers and phones.

Plain values from a random stream of their own, so the people do not change with the date
the demo is built on; the builder registers them through the domain later.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import count

from slrt.demo.data import (
    CHILD_FEMALE,
    CHILD_FEMALE_SECOND,
    CHILD_MALE,
    CHILD_MALE_SECOND,
    DISTRICTS,
    DUKUH,
    FAMILY_RELATIONS,
    FEMALE_NAMES,
    FEMALE_SECOND,
    MALE_NAMES,
    MALE_SECOND,
    MOBILE_PREFIXES,
    PHONE_OWNERS,
    STREETS,
)
from slrt.identity import normalize_mobile
from slrt.models.enums import PhoneOwner, Sex

#: Village code -> name, and the villages with their weight in the population.
VILLAGE_NAMES = {f"{code}.{suffix}": name for code, _, villages in DISTRICTS for suffix, name, _ in villages}
VILLAGE_WEIGHTS = tuple((f"{code}.{suffix}", weight) for code, _, villages in DISTRICTS
                        for suffix, _, weight in villages)


@dataclass
class Person:
    """A resident to register: everything register_resident needs, drawn in advance."""

    name: str
    sex: Sex
    birth_date: date
    village: str
    nik: str
    address: str
    phone: str | None
    phone_owner: PhoneOwner
    phone_owner_name: str | None
    household: int | None
    registered_at: datetime | None = None
    first_case_at: datetime | None = None
    cases: int = 0

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))


@dataclass
class Family:
    """A household to register (KK number, address, village)."""

    kk_number: str
    village: str
    address: str
    dtks_id: str | None


class Identifiers:
    """Hands out valid Indonesian mobile numbers, NIKs and KK numbers, never the same one twice."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.phones: set[str] = set()
        self.niks: set[str] = set()
        self.kks: set[str] = set()

    def phone(self, rng: random.Random) -> str:
        """Return a fresh, valid Indonesian mobile number in E.164."""
        prefixes, weights = zip(*MOBILE_PREFIXES, strict=True)
        while True:
            prefix = rng.choices(prefixes, weights)[0]
            rest = rng.randint(10 ** 7, 10 ** 8 - 1) if rng.random() < 0.8 else rng.randint(10 ** 6, 10 ** 7 - 1)
            number = normalize_mobile(f"{prefix}{rest}")
            if number not in self.phones:
                self.phones.add(number)
                return number

    def nik(self, district: str, birth: date, sex: Sex) -> str:
        """Return a fresh NIK: kecamatan code, birth date (day + 40 for women), sequence."""
        day = birth.day + (40 if sex == Sex.FEMALE else 0)
        return self._fresh(f"{district.replace('.', '')}{day:02d}{birth.month:02d}{birth.year % 100:02d}", 400,
                           self.niks)

    def kk(self, district: str, issued: date) -> str:
        """Return a fresh KK number: kecamatan code, issue date, sequence (never 0000)."""
        return self._fresh(f"{district.replace('.', '')}{issued:%d%m%y}", 2000, self.kks)

    def _fresh(self, stem: str, most: int, taken: set[str]) -> str:
        """Return ``stem`` and a four-digit sequence number (1 to ``most``) not in ``taken``, now taken."""
        while True:
            number = f"{stem}{self.rng.randint(1, most):04d}"
            if number not in taken:
                taken.add(number)
                return number


def draw_people(size: int, this_year: int, ids: Identifiers) -> tuple[list[Person], list[Family]]:
    """Draw ``size`` residents in households (names, birth dates, NIK, phones) from ``ids``' stream."""
    rng = ids.rng
    people: list[Person] = []
    families: list[Family] = []
    codes, weights = zip(*VILLAGE_WEIGHTS, strict=True)
    for drawn in count():
        if len(people) >= size:
            break
        # a household in every village first (the demo's stories name them all), then by weight
        village = codes[drawn] if drawn < len(codes) else rng.choices(codes, weights)[0]
        district = village.rsplit(".", 1)[0]
        is_kelurahan = village.rsplit(".", 1)[1].startswith("1")
        rt, rw = rng.randint(1, 6), rng.randint(1, 4)
        if is_kelurahan:
            address = (f"{rng.choice(STREETS)} No. {rng.randint(1, 120)} RT {rt:02d}/RW {rw:02d}, "
                       f"Kel. {VILLAGE_NAMES[village]}")
        else:
            address = f"Dk. {rng.choice(DUKUH)} RT {rt:02d}/RW {rw:02d}, Desa {VILLAGE_NAMES[village]}"
        members = _draw_members(rng, this_year)
        has_kk = rng.random() < 0.92
        household = None
        if has_kk:
            youngest = max(m[2] for m in members)
            issued = _random_date(rng, max(youngest, date(2008, 1, 1)), date(this_year - 1, 12, 31))
            dtks = f"{rng.randint(10 ** 11, 10 ** 12 - 1)}" if rng.random() < 0.6 else None
            families.append(Family(ids.kk(district, issued), village, address, dtks))
            household = len(families) - 1
        else:
            members = members[:1]
        for name, sex, birth in members:
            if len(people) >= size:
                break
            owner, owner_name, phone = _draw_phone(rng, ids, birth, this_year)
            people.append(Person(
                name=name, sex=sex, birth_date=birth, village=village, nik=ids.nik(district, birth, sex),
                address=address, phone=phone, phone_owner=owner, phone_owner_name=owner_name,
                household=household))
    return people, families


def _draw_members(rng: random.Random, this_year: int) -> list[tuple[str, Sex, date]]:
    """Return the registered members of one family: head, maybe spouse, children, a parent."""
    head_sex = Sex.MALE if rng.random() < 0.82 else Sex.FEMALE
    head_birth = _random_date(rng, date(1948, 1, 1), date(1998, 12, 31))
    members = [(_adult_name(rng, head_sex), head_sex, head_birth)]
    roll = rng.random()
    if head_sex == Sex.MALE and roll < 0.5:
        spouse_birth = _random_date(rng, head_birth + timedelta(days=300), head_birth + timedelta(days=3000))
        spouse_birth = min(spouse_birth, date(2000, 12, 31))
        members.append((_adult_name(rng, Sex.FEMALE), Sex.FEMALE, spouse_birth))
    children = rng.choices((0, 1, 2), (55, 32, 13))[0]
    for _ in range(children):
        low = date(max(head_birth.year + 19, this_year - 22), 1, 1)
        high = date(this_year - 3, 12, 31)
        if low > high:
            break
        sex = rng.choice((Sex.MALE, Sex.FEMALE))
        members.append((_child_name(rng, sex), sex, _random_date(rng, low, high)))
    if head_birth.year > 1965 and rng.random() < 0.12:
        sex = rng.choice((Sex.MALE, Sex.FEMALE))
        members.append((_adult_name(rng, sex), sex, _random_date(rng, date(1935, 1, 1), date(1955, 12, 31))))
    return members


def _draw_phone(rng: random.Random, ids: Identifiers, birth: date,
                this_year: int) -> tuple[PhoneOwner, str | None, str | None]:
    """Return whose phone a resident gives, the holder's name and the number (None: no phone)."""
    owners, weights = zip(*PHONE_OWNERS, strict=True)
    if this_year - birth.year < 17:
        owner = rng.choices((PhoneOwner.FAMILY, None), (70, 30))[0]
    else:
        owner = rng.choices(owners, weights)[0]
    if owner is None:
        return PhoneOwner.OWN, None, None
    holder = None
    if owner == PhoneOwner.FAMILY:
        sex_h = rng.choice((Sex.MALE, Sex.FEMALE))
        if this_year - birth.year < 17:
            relation = "bapak" if sex_h == Sex.MALE else "ibu"
        else:
            relation = rng.choice(FAMILY_RELATIONS)
        holder = f"{_adult_name(rng, sex_h)} ({relation})"
    elif owner == PhoneOwner.NEIGHBOUR:
        sex_h = rng.choice((Sex.MALE, Sex.FEMALE))
        holder = f"{'Pak' if sex_h == Sex.MALE else 'Bu'} {_adult_name(rng, sex_h).split()[0]}"
    elif owner == PhoneOwner.RT_RW_HEAD:
        holder = f"Pak {rng.choice(('RT', 'RW'))} {rng.choice(MALE_NAMES)}"
    return owner, holder, ids.phone(rng)


def _random_date(rng: random.Random, low: date, high: date) -> date:
    return low + timedelta(days=rng.randint(0, max((high - low).days, 0)))


def _adult_name(rng: random.Random, sex: Sex) -> str:
    if sex == Sex.MALE:
        first, second = rng.choice(MALE_NAMES), rng.choice(MALE_SECOND)
    else:
        first, second = rng.choice(FEMALE_NAMES), rng.choice(FEMALE_SECOND)
    # older villagers often have one name only
    return first if rng.random() < 0.3 and first not in ("Sri", "Siti", "Nur", "Tri", "Dwi", "Eko") \
        else f"{first} {second}"


def _child_name(rng: random.Random, sex: Sex) -> str:
    if sex == Sex.MALE:
        return f"{rng.choice(CHILD_MALE)} {rng.choice(CHILD_MALE_SECOND)}"
    return f"{rng.choice(CHILD_FEMALE)} {rng.choice(CHILD_FEMALE_SECOND)}"
