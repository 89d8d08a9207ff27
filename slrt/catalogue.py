"""The default service catalogue (DESIGN.md): documents, and services per domain with SLAs and reminder schedules.

A district set up with ``flask slrt setup-district`` starts with it when it has no service yet;
managers then adapt it on the Katalog screens (or by spreadsheet). The card colour of each
domain is ``slrt.models.enums.DOMAIN_COLOURS``. No agency is named here: agencies are the
district's own, and a service's default agency is set when they are known.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from slrt.extensions import db
from slrt.models import Document, Service, service_document
from slrt.models.enums import Domain

#: code, name, short form for SMS.
DOCUMENTS: tuple[tuple[str, str, str], ...] = (
    ("SKTM", "Surat Keterangan Tidak Mampu (SKTM) dari desa/kelurahan", "SKTM"),
    ("FC_KK", "Fotokopi Kartu Keluarga (KK)", "fc KK"),
    ("FC_KTP", "Fotokopi KTP-el atau KIA setiap anggota keluarga", "fc KTP"),
    ("FC_AKTA", "Fotokopi akta kelahiran (bagi yang belum punya KTP/KIA)", "fc akta"),
    ("PENGANTAR_RT", "Surat pengantar RT/RW", "pengantar RT"),
    ("KET_DESA", "Surat keterangan dari desa/kelurahan", "ket. desa"),
    ("MAP", "Map / stopmap untuk berkas", "map"),
    ("KARTU_KIS", "Kartu KIS/BPJS Kesehatan lama", "kartu KIS"),
    ("SURAT_RS", "Surat keterangan rawat inap dan rincian biaya dari rumah sakit", "surat RS"),
    ("BUKU_KIA", "Buku KIA (pemeriksaan kehamilan)", "buku KIA"),
    ("KET_KEJADIAN", "Surat keterangan kejadian dari desa atau polsek", "ket. kejadian"),
    ("FOTO_KEJADIAN", "Foto rumah atau lokasi kejadian", "foto"),
    ("SURAT_LAPAS", "Surat keterangan bebas dari Lapas/Rutan", "surat Lapas"),
    ("KET_SEKOLAH", "Surat keterangan aktif sekolah atau kartu pelajar", "ket. sekolah"),
    ("PAS_FOTO", "Pas foto 3x4, 2 lembar", "pas foto"),
)


@dataclass(frozen=True)
class CatalogueService:
    """A service of the default catalogue."""

    code: str
    name: str
    short_name: str
    domain: Domain
    #: Working days the agency has to handle a referral.
    sla_days: int
    #: First reminder, then every, at most: working days and count.
    reminders: tuple[int, int, int]
    #: Document codes, in the order a checklist lists them.
    documents: tuple[str, ...]
    description: str


SERVICES: tuple[CatalogueService, ...] = (
    CatalogueService("BPJS_PBI_AKTIVASI", "Aktivasi BPJS Kesehatan PBI (KIS)", "Aktivasi KIS PBI",
                     Domain.HEALTH, 10, (3, 2, 3), ("SKTM", "FC_KK", "FC_KTP", "FC_AKTA", "MAP"),
                     "Pendaftaran keluarga miskin sebagai peserta PBI yang iurannya dibayar pemerintah (APBN/APBD)."),
    CatalogueService("BPJS_PBI_REAKTIVASI", "Reaktivasi BPJS Kesehatan PBI (KIS) nonaktif", "Reaktivasi KIS PBI",
                     Domain.HEALTH, 5, (2, 2, 3), ("SKTM", "FC_KK", "FC_KTP", "KARTU_KIS", "MAP"),
                     "Mengaktifkan kembali kartu KIS PBI yang dinonaktifkan setelah pemutakhiran data."),
    CatalogueService("RS_KERINGANAN", "Keringanan biaya rumah sakit (dana kemitraan RSUD)", "Keringanan biaya RS",
                     Domain.HEALTH, 3, (1, 1, 3), ("SKTM", "FC_KK", "FC_KTP", "SURAT_RS", "MAP"),
                     "Pembebasan atau keringanan tagihan rawat inap pasien tidak mampu tanpa jaminan."),
    CatalogueService("JAMPERSAL", "Jaminan persalinan (Jampersal)", "Jampersal",
                     Domain.HEALTH, 5, (2, 2, 3), ("SKTM", "FC_KK", "FC_KTP", "BUKU_KIA"),
                     "Biaya persalinan dan nifas bagi ibu hamil tidak mampu yang belum punya jaminan."),
    CatalogueService("BANSOS", "Bantuan sosial (sembako atau uang tunai)", "Bantuan sosial",
                     Domain.SOCIAL, 10, (3, 3, 3), ("SKTM", "FC_KK", "FC_KTP", "PENGANTAR_RT"),
                     "Bantuan kebutuhan dasar bagi keluarga yang kehilangan penghasilan."),
    CatalogueService("ADMINDUK", "Penerbitan dokumen kependudukan (KK, KTP-el, akta)", "Dokumen Dukcapil",
                     Domain.SOCIAL, 5, (2, 2, 2), ("FC_KK", "FC_KTP", "PENGANTAR_RT", "KET_DESA"),
                     "Cetak ulang atau perbaikan KK, KTP-el dan akta kelahiran, syarat layanan lain."),
    CatalogueService("KEBAKARAN", "Bantuan korban bencana kebakaran", "Bantuan kebakaran",
                     Domain.SOCIAL, 3, (1, 1, 3), ("FC_KK", "FC_KTP", "KET_KEJADIAN", "FOTO_KEJADIAN"),
                     "Bantuan logistik dan perbaikan rumah bagi keluarga yang rumahnya terbakar."),
    CatalogueService("PEMULANGAN", "Pemulangan orang terlantar", "Pemulangan terlantar",
                     Domain.SOCIAL, 3, (1, 1, 3), ("FC_KTP", "KET_DESA"),
                     "Biaya dan pendampingan pulang bagi warga yang terlantar di luar daerah."),
    CatalogueService("EKS_NAPI", "Dukungan mantan narapidana (rehabilitasi sosial)", "Dukungan eks WBP",
                     Domain.SOCIAL, 15, (5, 5, 2), ("FC_KK", "FC_KTP", "SURAT_LAPAS", "PAS_FOTO"),
                     "Rehabilitasi sosial, pelatihan dan modal usaha bagi mantan warga binaan pemasyarakatan."),
    CatalogueService("SKTM_SEKOLAH", "SKTM untuk keringanan biaya sekolah", "SKTM sekolah",
                     Domain.EDUCATION, 5, (2, 2, 2), ("FC_KK", "FC_AKTA", "KET_SEKOLAH", "PENGANTAR_RT"),
                     "Surat keterangan tidak mampu untuk pendaftaran jalur afirmasi dan keringanan biaya sekolah."),
    CatalogueService("KIP", "Surat pengantar Kartu Indonesia Pintar (KIP/PIP)", "Pengantar KIP",
                     Domain.EDUCATION, 10, (3, 3, 2), ("SKTM", "FC_KK", "FC_AKTA", "KET_SEKOLAH"),
                     "Pengantar pengusulan siswa tidak mampu sebagai penerima Program Indonesia Pintar."),
)

DEFAULT_SERVICES: dict[str, CatalogueService] = {spec.code: spec for spec in SERVICES}


@dataclass(frozen=True)
class CatalogueCreated:
    """What :func:`create_default_catalogue` added."""

    documents: int = 0
    services: int = 0


def create_default_catalogue() -> CatalogueCreated:
    """Add the default documents and services when the catalogue has no service yet; else change nothing.

    Flushes; the caller commits. A document already there under its code is reused.
    """
    if db.session.scalar(select(func.count()).select_from(Service)):
        return CatalogueCreated()
    documents = {d.code: d for d in db.session.scalars(select(Document))}
    added = 0
    for code, name, sms_name in DOCUMENTS:
        if code not in documents:
            documents[code] = Document(code=code, name=name, sms_name=sms_name)
            db.session.add(documents[code])
            added += 1
    services = {}
    for spec in SERVICES:
        first, every, most = spec.reminders
        services[spec.code] = Service(
            code=spec.code, name=spec.name, short_name=spec.short_name, domain=spec.domain,
            description=spec.description, sla_days=spec.sla_days, reminder_first_days=first,
            reminder_every_days=every, reminder_max=most)
    db.session.add_all(services.values())
    db.session.flush()
    db.session.execute(service_document.insert(), [
        {"service_id": services[spec.code].id, "document_id": documents[code].id, "position": i}
        for spec in SERVICES for i, code in enumerate(spec.documents)
    ])
    for service in services.values():
        db.session.expire(service, ["documents"])
    return CatalogueCreated(documents=added, services=len(services))
