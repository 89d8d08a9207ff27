"""Households and residents. NIK and KK numbers live encrypted; see slrt.pii."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy import text as sql_text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from slrt import clock
from slrt.models.base import Base, enum_column
from slrt.models.enums import DtsenStatus, FamilyRelation, PhoneOwner, Programme, Sex
from slrt.models.org import Region
from slrt.pii import mask, vault

#: Longest word kept for search; a longer one is kept cut to this (no name word is this long).
NAME_WORD_LENGTH = 40
#: Apostrophes join what they split (Ma'ruf is found as "maruf").
_APOSTROPHES = dict.fromkeys(map(ord, "'\u2019\u2018`\u00b4"), None)


#: ASCII punctuation a name word breaks at (the apostrophe and backquote join instead).
_ASCII_BREAKS = str.maketrans({ch: " " for ch in map(chr, range(128)) if not ch.isalnum() and ch not in "'`"})


def name_words(name: str) -> list[str]:
    """The words a name is found by, once each, in order: lowercase, accents, apostrophes and
    other punctuation dropped ("Muh. Ma'ruf Slamet-Riyanto" -> muh, maruf, slamet, riyanto)."""
    name = name or ""
    if name.isascii():  # most names: no accents to take off, the same words four times quicker
        plain = name.replace("'", "").replace("`", "").translate(_ASCII_BREAKS)
        return list(dict.fromkeys(word[:NAME_WORD_LENGTH] for word in plain.lower().split()))
    return _unicode_name_words(name)


def _unicode_name_words(name: str) -> list[str]:
    """name_words() for any text: accents taken off by decomposing (NFKD)."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_APOSTROPHES))
    plain = "".join(ch if ch.isalnum() else " " for ch in decomposed if not unicodedata.combining(ch))
    return list(dict.fromkeys(word[:NAME_WORD_LENGTH] for word in plain.lower().split()))


#: Words compare byte by byte on PostgreSQL too, whatever the database's collation: a prefix search
#: is a range on the index ([word, word with its last character raised)), which holds only in C order.
NameWordText = String(NAME_WORD_LENGTH).with_variant(postgresql.VARCHAR(NAME_WORD_LENGTH, collation="C"),
                                                     "postgresql")


#: A keyed hash (hex): only ever compared whole, so byte by byte on PostgreSQL whatever the database's
#: collation (a linguistic one, as en_US or id_ID, costs several times more per comparison: every
#: lookup and every insert into its unique index).
HashText = String(64).with_variant(postgresql.VARCHAR(64, collation="C"), "postgresql")
#: A phone number (E.164): compared whole, byte by byte (see HashText).
PhoneText = String(16).with_variant(postgresql.VARCHAR(16, collation="C"), "postgresql")


class Household(Base):
    """A family as registered on its Kartu Keluarga (KK)."""

    __tablename__ = "household"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Fernet token of the 16-digit KK number.
    kk_encrypted: Mapped[str] = mapped_column(Text)
    #: Keyed HMAC of the KK number: exact lookup and uniqueness without the number.
    kk_hash: Mapped[str] = mapped_column(HashText, unique=True)
    #: 3316********0001, safe for lists.
    kk_masked: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(255))
    village_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    #: Id in DTKS (Data Terpadu Kesejahteraan Sosial), when the family is listed there.
    dtks_id: Mapped[str | None] = mapped_column(String(32), index=True)
    #: The family's DTSEN desil (1 poorest tenth ... 10), as of ``dtsen_as_of``; None when not ranked.
    desil: Mapped[int | None] = mapped_column(
        SmallInteger, CheckConstraint("desil BETWEEN 1 AND 10", name="desil"), index=True)
    #: The date of the DTSEN data last imported for this family (slrt.dtsen_import).
    dtsen_as_of: Mapped[date | None] = mapped_column(index=True)  # its max: the newest data held
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    village: Mapped[Region] = relationship()
    members: Mapped[list[Resident]] = relationship(
        back_populates="household", primaryjoin="Household.id == foreign(Resident.household_id)")

    @property
    def kk_number(self) -> str:
        return vault.decrypt(self.kk_encrypted)

    @kk_number.setter
    def kk_number(self, number: str) -> None:
        self.kk_encrypted = vault.encrypt(number)
        self.kk_hash = vault.lookup_hash("kk", number)
        self.kk_masked = mask(number)

    def __repr__(self) -> str:
        return f"<Household {self.id} {self.kk_masked}>"


class Resident(Base):
    """A person served by SLRT."""

    __tablename__ = "resident"
    __table_args__ = (
        # Found by the phone an SMS came from; the many residents without one (most of a DTSEN
        # import) are left out of the index.
        Index("ix_resident_phone", "phone", postgresql_where=sql_text("phone IS NOT NULL"),
              sqlite_where=sql_text("phone IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Fernet token of the 16-digit NIK.
    nik_encrypted: Mapped[str] = mapped_column(Text)
    #: Keyed HMAC of the NIK: exact lookup and uniqueness without the number.
    nik_hash: Mapped[str] = mapped_column(HashText, unique=True)
    #: 3316********0001, safe for lists.
    nik_masked: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    sex: Mapped[Sex] = mapped_column(enum_column(Sex, "resident_sex"))
    birth_date: Mapped[date]
    #: The family's household and the village: no foreign key in the database (migration 0026). Households
    #: and regions are never deleted, and every write takes these ids from rows it read or created in its
    #: own transaction; ``flask slrt check`` counts any resident whose household or village is missing.
    household_id: Mapped[int | None] = mapped_column(index=True)
    village_id: Mapped[int] = mapped_column(index=True)
    address: Mapped[str] = mapped_column(String(255))
    #: Mobile number in E.164 (+628...), normalized by slrt.identity.
    phone: Mapped[str | None] = mapped_column(PhoneText)
    #: Whose phone it is; to a phone not the resident's own, SMS stay discreet.
    phone_owner: Mapped[PhoneOwner] = mapped_column(
        enum_column(PhoneOwner, "resident_phone_owner"), default=PhoneOwner.OWN
    )
    #: Name of the phone's holder when it is not the resident's own ("Pak RT Sutrisno").
    phone_owner_name: Mapped[str | None] = mapped_column(String(120))
    #: The resident answered STOP/BERHENTI: no notices until MULAI.
    is_sms_opted_out: Mapped[bool] = mapped_column(default=False)
    sms_opted_out_at: Mapped[datetime | None]
    #: Language of the SMS they get: 'id' or 'en'.
    language: Mapped[str] = mapped_column(String(2), default="id")
    #: Status in DTSEN as of ``dtsen_as_of``; None: not in the DTSEN data imported so far.
    dtsen_status: Mapped[DtsenStatus | None] = mapped_column(enum_column(DtsenStatus, "resident_dtsen_status"))
    #: Programmes the DTSEN export flags for the person: Programme values, space-separated, in declaration order.
    dtsen_programmes: Mapped[str] = mapped_column(String(60), default="")
    dtsen_as_of: Mapped[date | None] = mapped_column(index=True)
    #: Place in the family of the KK (hubungan keluarga), when an import said it.
    #: A FamilyRelation code (1 head ... 8 other); see ``relation``.
    family_relation: Mapped[int | None] = mapped_column(
        SmallInteger, CheckConstraint("family_relation BETWEEN 1 AND 8", name="family_relation"))
    birth_place: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    household: Mapped[Household | None] = relationship(
        back_populates="members", primaryjoin="foreign(Resident.household_id) == Household.id")
    village: Mapped[Region] = relationship(primaryjoin="foreign(Resident.village_id) == Region.id")
    #: The words of the name, kept with it: a clerk finds "Slamet Riyanto" by "riyanto" too.
    #: (No foreign key in the database: see ResidentNameWord.)
    name_words: Mapped[list[ResidentNameWord]] = relationship(
        primaryjoin="Resident.id == foreign(ResidentNameWord.resident_id)", cascade="all, delete-orphan")

    @validates("name")
    def _keep_name_words(self, _key: str, name: str) -> str:
        kept = {row.word: row for row in self.name_words}
        self.name_words = [kept.get(word) or ResidentNameWord(word=word) for word in name_words(name)]
        return name

    @property
    def nik(self) -> str:
        return vault.decrypt(self.nik_encrypted)

    @nik.setter
    def nik(self, number: str) -> None:
        self.nik_encrypted = vault.encrypt(number)
        self.nik_hash = vault.lookup_hash("nik", number)
        self.nik_masked = mask(number)

    @property
    def relation(self) -> FamilyRelation | None:
        return FamilyRelation(self.family_relation) if self.family_relation else None

    @property
    def is_deceased(self) -> bool:
        """DTSEN says the person died: kept on record, never sent an SMS."""
        return self.dtsen_status == DtsenStatus.DECEASED

    @property
    def programmes(self) -> list[Programme]:
        return [Programme(value) for value in self.dtsen_programmes.split()]

    @property
    def has_own_phone(self) -> bool:
        return self.phone is not None and self.phone_owner == PhoneOwner.OWN

    def __repr__(self) -> str:
        return f"<Resident {self.id} {self.nik_masked}>"


class ResidentNameWord(Base):
    """One word of a resident's name: residents are found by any word of it through this index
    (a prefix of a word is a range of the primary key), on SQLite and PostgreSQL alike.

    A search index kept by the application, without a foreign key to the resident (migration 0024):
    words are written with their resident, in its transaction (Resident's name, the DTSEN import),
    and residents are never deleted; the check cost a DTSEN import more than any other in the database.
    """

    __tablename__ = "resident_name_word"

    #: The word as :func:`name_words` writes it (lowercase, no accents or punctuation).
    word: Mapped[str] = mapped_column(NameWordText, primary_key=True)
    resident_id: Mapped[int] = mapped_column(primary_key=True, index=True)

    def __repr__(self) -> str:
        return f"<ResidentNameWord {self.resident_id} {self.word}>"
