"""A demo district: Kabupaten Blora, its Puskesos, partner agencies and a year of SLRT work.

Everything that has a domain function goes through it (create_staff, register_resident,
open_case, refer, accept, ...), with the clock moved back to the moment each step
happened (time-machine), so due dates, timelines and outbox rows are exactly what the
workflow would have written. Regions, units, the catalogue and the agencies have no
domain functions and are inserted directly; outbox rows older than two days are marked
sent and delivered, as the workers would have done at the time.

``seed`` flushes and never commits: the CLI command is the unit of work.
"""

from __future__ import annotations

import random
import secrets
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import time_machine
from sqlalchemy import func, select

from slrt import cases, clock, followups, outbox, referrals, residents, workdays
from slrt import staff as staff_ops
from slrt.access import SYSTEM_ACTOR, Actor, ResidentPhone
from slrt.extensions import db
from slrt.identity import normalize_mobile
from slrt.models import (
    Agency,
    AgencyContact,
    Case,
    Document,
    FollowUp,
    Household,
    Referral,
    Region,
    Resident,
    Service,
    SmsMessage,
    Staff,
    Unit,
    service_document,
)
from slrt.models.enums import (
    REFERRAL_ACTIVE,
    AgencyKind,
    AgencyLevel,
    CaseStatus,
    Channel,
    Domain,
    FollowUpReason,
    Outcome,
    PhoneOwner,
    ReferralStatus,
    RegionLevel,
    Role,
    Sex,
    SmsAudience,
    SmsDirection,
    SmsStatus,
    UnitKind,
    Urgency,
)
from slrt.ports import GatewayError

# --------------------------------------------------------------------------- logins

#: The demo accounts: role, username, password, full name, unit key (see PUSKESOS).
DEMO_LOGINS: tuple[tuple[Role, str, str, str, str], ...] = (
    (Role.MANAGER, "manager", "demo-manager-2026", "Bambang Sulistyo, S.Sos.", "sekretariat"),
    (Role.SUPERVISOR, "supervisor", "demo-supervisor-2026", "Endah Purwaningsih, S.Sos.", "sekretariat"),
    (Role.FACILITATOR, "fasilitator", "demo-fasilitator-2026", "Agus Prasetyo", "jepon"),
    (Role.FRONT_OFFICE, "frontoffice", "demo-frontoffice-2026", "Dwi Lestari", "jepon"),
    (Role.BACK_OFFICE, "backoffice", "demo-backoffice-2026", "Rina Kusumawati", "sekretariat"),
)

#: More staff, with passwords nobody knows (an operator can use ``slrt set-password``).
EXTRA_STAFF: tuple[tuple[Role, str, str, str], ...] = (
    (Role.FRONT_OFFICE, "wahyu.nugroho", "Wahyu Nugroho", "sekretariat"),
    (Role.BACK_OFFICE, "siti.maryam", "Siti Maryam, S.Sos.", "sekretariat"),
    (Role.FACILITATOR, "sugeng.riyadi", "Sugeng Riyadi", "jepon"),
    (Role.FACILITATOR, "yuni.astuti", "Yuni Astuti", "cepu"),
    (Role.FRONT_OFFICE, "heru.santoso", "Heru Santoso", "cepu"),
    (Role.FACILITATOR, "tri.wahyudi", "Tri Wahyudi", "randublatung"),
    (Role.FRONT_OFFICE, "nur.aini", "Nur Aini", "randublatung"),
    (Role.FACILITATOR, "sri.mulyani", "Sri Mulyani", "ngawen"),
    (Role.FRONT_OFFICE, "joko.purnomo", "Joko Purnomo", "ngawen"),
)


def logins() -> list[tuple[str, str, str]]:
    """Return (role, username, password) of the demo logins, one per role."""
    return [(role.value, username, password) for role, username, password, _, _ in DEMO_LOGINS]


# --------------------------------------------------------------------------- district

PROVINCE = ("33", "Jawa Tengah")
REGENCY = ("33.16", "Kabupaten Blora")

#: Kecamatan and their villages: (code suffix, name, weight in the population).
#: Suffixes 1xxx are kelurahan, 2xxx desa, as in Kemendagri codes.
DISTRICTS: tuple[tuple[str, str, tuple[tuple[str, str, int], ...]], ...] = (
    ("33.16.02", "Randublatung", (("1001", "Randublatung", 3), ("2006", "Kutukan", 1), ("2011", "Wulung", 1))),
    ("33.16.05", "Cepu", (("1001", "Balun", 1), ("1002", "Cepu", 3), ("2009", "Ngroto", 1))),
    ("33.16.08", "Jepon", (("2001", "Jepon", 4), ("2004", "Soko", 1), ("2010", "Semanggi", 1))),
    ("33.16.09", "Blora", (("1001", "Kauman", 1), ("1004", "Tempelan", 1))),
    ("33.16.12", "Ngawen", (("2001", "Ngawen", 3),)),
)

SECRETARIAT = ("Sekretariat SLRT Kabupaten Blora", "Jl. Pemuda No. 16, Blora", "(0296) 531234")

#: Puskesos posts: unit key, village code, name, address, phone.
PUSKESOS: tuple[tuple[str, str, str, str, str], ...] = (
    ("jepon", "33.16.08.2001", "Puskesos Desa Jepon", "Balai Desa Jepon, Jl. Raya Blora-Cepu Km 9", "0812-2655-1408"),
    ("cepu", "33.16.05.1002", "Puskesos Kelurahan Cepu", "Kantor Kelurahan Cepu, Jl. Diponegoro No. 12, Cepu",
     "0813-2588-7014"),
    ("randublatung", "33.16.02.1001", "Puskesos Kelurahan Randublatung",
     "Kantor Kelurahan Randublatung, Jl. Pemuda No. 3, Randublatung", "0857-4201-3365"),
    ("ngawen", "33.16.12.2001", "Puskesos Desa Ngawen", "Balai Desa Ngawen, Jl. Raya Blora-Purwodadi Km 14",
     "0822-2610-5547"),
)

DUKUH = ("Krajan", "Sidomulyo", "Sumberejo", "Tegalrejo", "Karanganyar", "Wonorejo", "Ngampel", "Kedungrejo",
         "Gondang", "Balong", "Jetis", "Sambiroto", "Kalisari", "Mojorejo")
STREETS = ("Jl. Sumbawa", "Jl. Gatot Subroto", "Jl. Pemuda", "Jl. Mr. Iskandar", "Jl. Halmahera", "Jl. Kartini",
           "Jl. Diponegoro", "Jl. Nglanjuk", "Jl. Ronggolawe")

# --------------------------------------------------------------------------- catalogue

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
class _AgencySpec:
    key: str
    name: str
    short_name: str
    kind: AgencyKind
    level: AgencyLevel
    address: str
    phone: str
    #: Contacts: name, is_head, receives_reminders.
    contacts: tuple[tuple[str, bool, bool], ...]
    reminders: tuple[int, int, int] | None = None


AGENCIES: tuple[_AgencySpec, ...] = (
    _AgencySpec("dinkes", "Dinas Kesehatan Kabupaten Blora", "Dinkes Blora", AgencyKind.HEALTH_OFFICE,
                AgencyLevel.DISTRICT, "Jl. Dr. Sutomo No. 46, Blora", "(0296) 531071",
                (("Hendro Wibowo, S.KM.", False, True), ("Ratna Dewi Anggraini", False, True),
                 ("dr. Lilik Hernanto", True, False))),
    _AgencySpec("bpjs", "BPJS Kesehatan Cabang Blora", "BPJS Blora", AgencyKind.BPJS, AgencyLevel.DISTRICT,
                "Jl. Pemuda No. 40, Blora", "(0296) 532910",
                (("Fitri Handayani", False, True), ("Arif Setyawan", True, True))),
    _AgencySpec("rsud", "RSUD dr. R. Soetijono Blora", "RSUD Blora", AgencyKind.HOSPITAL, AgencyLevel.DISTRICT,
                "Jl. Dr. Sutomo No. 42, Blora", "(0296) 531118",
                (("Sri Suryani, Amd.Kep.", False, True), ("Bayu Kristanto", False, True),
                 ("dr. Puji Rahayu, M.Kes.", True, False))),
    _AgencySpec("disdik", "Dinas Pendidikan Kabupaten Blora", "Disdik Blora", AgencyKind.EDUCATION_OFFICE,
                AgencyLevel.DISTRICT, "Jl. Halmahera No. 1, Blora", "(0296) 531426",
                (("Yuliana Kartikasari", False, True), ("Drs. Sutikno", True, True))),
    _AgencySpec("baznas", "Baznas Kabupaten Blora", "Baznas Blora", AgencyKind.BAZNAS, AgencyLevel.DISTRICT,
                "Jl. Alun-alun Utara No. 1, Blora", "(0296) 533215",
                (("Ahmad Mustofa", True, True),)),
    _AgencySpec("dukcapil", "Dinas Kependudukan dan Pencatatan Sipil Kabupaten Blora", "Disdukcapil Blora",
                AgencyKind.CIVIL_REGISTRY, AgencyLevel.DISTRICT, "Jl. Nusantara No. 27, Blora", "(0296) 531560",
                (("Eko Budi Santoso", False, True), ("Retno Wulandari, S.H.", True, True))),
    _AgencySpec("dinsos_prov", "Dinas Sosial Provinsi Jawa Tengah", "Dinsos Jateng", AgencyKind.SOCIAL_OFFICE,
                AgencyLevel.PROVINCE, "Jl. Pahlawan No. 12, Semarang", "(024) 8311729",
                (("Galih Permadi", False, True), ("Dra. Ambarwati", True, False)),
                reminders=(3, 3, 3)),
    _AgencySpec("kemensos", "Kementerian Sosial Republik Indonesia", "Kemensos", AgencyKind.SOCIAL_OFFICE,
                AgencyLevel.NATIONAL, "Jl. Salemba Raya No. 28, Jakarta Pusat", "(021) 3103591",
                (("Andreas Situmorang", False, True), ("Dian Puspitasari", True, True)),
                reminders=(5, 5, 2)),
)


@dataclass(frozen=True)
class _ServiceSpec:
    code: str
    name: str
    short_name: str
    domain: Domain
    agency: str
    sla_days: int
    #: First reminder, then every, at most: working days and count.
    reminders: tuple[int, int, int]
    documents: tuple[str, ...]
    #: Share of new cases whose main need it is (per cent of all cases).
    weight: int
    description: str
    #: Another agency staff sometimes choose instead of the default.
    other_agency: str | None = None
    #: Age range (years) of the residents it is for, and the sex when only one.
    ages: tuple[int, int] = (0, 99)
    sex: Sex | None = None
    #: Services often asked for in the same visit.
    companions: tuple[str, ...] = ()


SERVICES: tuple[_ServiceSpec, ...] = (
    _ServiceSpec("BPJS_PBI_AKTIVASI", "Aktivasi BPJS Kesehatan PBI (KIS)", "Aktivasi KIS PBI", Domain.HEALTH,
                 "dinkes", 10, (3, 2, 3), ("SKTM", "FC_KK", "FC_KTP", "FC_AKTA", "MAP"), 28,
                 "Pendaftaran keluarga miskin sebagai peserta PBI yang iurannya dibayar pemerintah (APBN/APBD).",
                 other_agency="bpjs", companions=("ADMINDUK", "BANSOS")),
    _ServiceSpec("BPJS_PBI_REAKTIVASI", "Reaktivasi BPJS Kesehatan PBI (KIS) nonaktif", "Reaktivasi KIS PBI",
                 Domain.HEALTH, "bpjs", 5, (2, 2, 3), ("SKTM", "FC_KK", "FC_KTP", "KARTU_KIS", "MAP"), 20,
                 "Mengaktifkan kembali kartu KIS PBI yang dinonaktifkan setelah pemutakhiran data.",
                 other_agency="dinkes", companions=("ADMINDUK",)),
    _ServiceSpec("RS_KERINGANAN", "Keringanan biaya rumah sakit (dana kemitraan RSUD)", "Keringanan biaya RS",
                 Domain.HEALTH, "rsud", 3, (1, 1, 3), ("SKTM", "FC_KK", "FC_KTP", "SURAT_RS", "MAP"), 15,
                 "Pembebasan atau keringanan tagihan rawat inap pasien tidak mampu tanpa jaminan.",
                 companions=("BPJS_PBI_AKTIVASI", "BANSOS")),
    _ServiceSpec("JAMPERSAL", "Jaminan persalinan (Jampersal)", "Jampersal", Domain.HEALTH, "dinkes", 5,
                 (2, 2, 3), ("SKTM", "FC_KK", "FC_KTP", "BUKU_KIA"), 7,
                 "Biaya persalinan dan nifas bagi ibu hamil tidak mampu yang belum punya jaminan.",
                 ages=(18, 42), sex=Sex.FEMALE, companions=("BPJS_PBI_AKTIVASI",)),
    _ServiceSpec("BANSOS", "Bantuan sosial (sembako atau uang tunai)", "Bantuan sosial", Domain.SOCIAL, "baznas",
                 10, (3, 3, 3), ("SKTM", "FC_KK", "FC_KTP", "PENGANTAR_RT"), 10,
                 "Bantuan kebutuhan dasar bagi keluarga yang kehilangan penghasilan.",
                 other_agency="dinsos_prov", ages=(25, 99), companions=("BPJS_PBI_AKTIVASI",)),
    _ServiceSpec("ADMINDUK", "Penerbitan dokumen kependudukan (KK, KTP-el, akta)", "Dokumen Dukcapil",
                 Domain.SOCIAL, "dukcapil", 5, (2, 2, 2), ("FC_KK", "FC_KTP", "PENGANTAR_RT", "KET_DESA"), 6,
                 "Cetak ulang atau perbaikan KK, KTP-el dan akta kelahiran, syarat layanan lain.",
                 companions=("BPJS_PBI_AKTIVASI",)),
    _ServiceSpec("KEBAKARAN", "Bantuan korban bencana kebakaran", "Bantuan kebakaran", Domain.SOCIAL,
                 "dinsos_prov", 3, (1, 1, 3), ("FC_KK", "FC_KTP", "KET_KEJADIAN", "FOTO_KEJADIAN"), 3,
                 "Bantuan logistik dan perbaikan rumah bagi keluarga yang rumahnya terbakar.",
                 other_agency="baznas", ages=(25, 99), companions=("BANSOS", "ADMINDUK")),
    _ServiceSpec("PEMULANGAN", "Pemulangan orang terlantar", "Pemulangan terlantar", Domain.SOCIAL, "dinsos_prov",
                 3, (1, 1, 3), ("FC_KTP", "KET_DESA"), 3,
                 "Biaya dan pendampingan pulang bagi warga yang terlantar di luar daerah.",
                 ages=(16, 65)),
    _ServiceSpec("EKS_NAPI", "Dukungan mantan narapidana (rehabilitasi sosial)", "Dukungan eks WBP", Domain.SOCIAL,
                 "kemensos", 15, (5, 5, 2), ("FC_KK", "FC_KTP", "SURAT_LAPAS", "PAS_FOTO"), 3,
                 "Rehabilitasi sosial, pelatihan dan modal usaha bagi mantan warga binaan pemasyarakatan.",
                 ages=(20, 60), companions=("ADMINDUK", "BPJS_PBI_AKTIVASI")),
    _ServiceSpec("SKTM_SEKOLAH", "SKTM untuk keringanan biaya sekolah", "SKTM sekolah", Domain.EDUCATION,
                 "disdik", 5, (2, 2, 2), ("FC_KK", "FC_AKTA", "KET_SEKOLAH", "PENGANTAR_RT"), 3,
                 "Surat keterangan tidak mampu untuk pendaftaran jalur afirmasi dan keringanan biaya sekolah.",
                 ages=(6, 19), companions=("KIP",)),
    _ServiceSpec("KIP", "Surat pengantar Kartu Indonesia Pintar (KIP/PIP)", "Pengantar KIP", Domain.EDUCATION,
                 "disdik", 10, (3, 3, 2), ("SKTM", "FC_KK", "FC_AKTA", "KET_SEKOLAH"), 2,
                 "Pengantar pengusulan siswa tidak mampu sebagai penerima Program Indonesia Pintar.",
                 ages=(6, 22), companions=("SKTM_SEKOLAH",)),
)

#: What residents say at intake, per main service.
SUMMARIES: dict[str, tuple[str, ...]] = {
    "BPJS_PBI_AKTIVASI": (
        "Belum punya BPJS, suami sakit paru-paru dan harus berobat rutin ke puskesmas.",
        "Keluarga tidak punya jaminan kesehatan, anak sering sakit. Minta didaftarkan PBI.",
        "Ibu lansia hipertensi belum terdaftar KIS. Penghasilan buruh tani tidak tetap.",
        "Berhenti kerja dari pabrik, BPJS dari perusahaan ikut berhenti. Minta dialihkan ke PBI.",
        "Baru punya bayi, bayi belum masuk KIS keluarga.",
    ),
    "BPJS_PBI_REAKTIVASI": (
        "KIS PBI ternyata nonaktif waktu mau berobat di puskesmas.",
        "Kartu KIS ditolak di RSUD karena nonaktif, harus kontrol jantung minggu depan.",
        "KIS nonaktif setelah pemutakhiran data, padahal keadaan ekonomi tidak berubah.",
        "Kartu KIS suami aktif, kartu istri dan anak nonaktif.",
    ),
    "RS_KERINGANAN": (
        "Anak dirawat di RSUD karena DBD, tidak punya jaminan, tagihan sekitar Rp 4 juta.",
        "Suami operasi usus buntu di RSUD, tagihan belum terbayar. Minta keringanan.",
        "Bapak dirawat karena stroke, keluarga tidak sanggup membayar biaya rawat inap.",
        "Persalinan sesar di RSUD, belum punya BPJS, pulang tertahan karena tagihan.",
    ),
    "JAMPERSAL": (
        "Hamil 8 bulan, belum punya jaminan untuk persalinan.",
        "Hamil anak ketiga, tidak punya BPJS, perkiraan lahir bulan depan.",
        "Ibu hamil risiko tinggi dirujuk bidan desa, belum ada jaminan.",
    ),
    "BANSOS": (
        "Lansia tinggal sendiri, tidak ada penghasilan, minta bantuan sembako.",
        "Kepala keluarga sakit stroke, tidak bisa bekerja, kebutuhan sehari-hari kurang.",
        "Janda dengan tiga anak, bekerja serabutan. Minta bantuan kebutuhan pokok.",
        "Gagal panen karena kemarau, tidak ada simpanan untuk makan.",
    ),
    "ADMINDUK": (
        "KK hilang, perlu cetak ulang untuk mengurus BPJS.",
        "Anak belum punya akta kelahiran, perlu untuk sekolah dan KIS.",
        "NIK di KK berbeda dengan KTP, KIS tidak bisa diaktifkan.",
        "KTP-el rusak dan belum pernah dicetak ulang.",
    ),
    "KEBAKARAN": (
        "Rumah terbakar karena korsleting listrik, dokumen dan perabot habis.",
        "Dapur dan sebagian rumah terbakar, keluarga mengungsi di rumah saudara.",
    ),
    "PEMULANGAN": (
        "Keluarga melapor anaknya terlantar di Surabaya setelah kehabisan ongkos, minta dipulangkan.",
        "Pekerja migran pulang dari Malaysia terlantar di Semarang, tidak ada biaya pulang ke Blora.",
        "Warga tertipu lowongan kerja di Jakarta, tertahan tanpa uang dan ingin pulang.",
    ),
    "EKS_NAPI": (
        "Baru bebas dari Lapas Blora, butuh pendampingan dan modal usaha kecil.",
        "Mantan warga binaan kesulitan mencari kerja, minta pelatihan keterampilan.",
    ),
    "SKTM_SEKOLAH": (
        "Anak masuk SMP, perlu SKTM untuk keringanan biaya sekolah.",
        "Mendaftar SMA lewat jalur afirmasi, butuh SKTM.",
        "Tunggakan SPP di SMK, minta keringanan dengan SKTM.",
    ),
    "KIP": (
        "Anak kelas 4 SD belum terdaftar PIP, minta surat pengantar KIP.",
        "Lulus SMA, ingin kuliah dengan KIP Kuliah.",
        "Anak yatim kelas 8, belum pernah menerima PIP.",
    ),
}

COMPLETION_NOTES: dict[str, tuple[str, ...]] = {
    "BPJS_PBI_AKTIVASI": ("KIS PBI aktif mulai bulan depan.", "Didaftarkan PBI APBD, kartu diambil di Dinkes.",
                          "Sudah aktif, kartu digital bisa dicek di Mobile JKN."),
    "BPJS_PBI_REAKTIVASI": ("Status PBI aktif kembali.", "Reaktivasi selesai, berlaku hari ini."),
    "RS_KERINGANAN": ("Biaya rawat inap dibebaskan 100%.", "Keringanan 75%, sisa dibayar keluarga.",
                      "Ditanggung dana kemitraan RSUD."),
    "JAMPERSAL": ("Terdaftar Jampersal, persalinan di puskesmas PONED.", "Jampersal disetujui."),
    "BANSOS": ("Paket sembako diserahkan ke rumah.", "Bantuan tunai Rp 500.000 diserahkan."),
    "ADMINDUK": ("KK baru sudah dicetak.", "Akta kelahiran terbit, diambil di desa.", "KTP-el dicetak ulang."),
    "KEBAKARAN": ("Bantuan logistik dan terpal diserahkan.", "Bantuan perbaikan rumah Rp 2.500.000."),
    "PEMULANGAN": ("Sudah dipulangkan dan diantar sampai rumah.", "Tiket bus dan uang makan diberikan."),
    "EKS_NAPI": ("Ikut pelatihan las di Balai Kemensos.", "Bantuan modal usaha warung diserahkan."),
    "SKTM_SEKOLAH": ("SKTM diterima sekolah, biaya dibebaskan.", "Diterima jalur afirmasi."),
    "KIP": ("Diusulkan sebagai penerima PIP tahap berikutnya.", "KIP terbit, dana PIP cair lewat bank."),
}

REJECT_REASONS: dict[Domain, tuple[str, ...]] = {
    Domain.HEALTH: ("Tidak terdaftar di DTKS, mohon diusulkan lewat desa", "Kuota PBI APBD tahun ini penuh",
                    "Masih peserta mandiri dengan tunggakan iuran", "NIK tidak padu dengan data Dukcapil",
                    "Berkas kurang: fc KK belum ada"),
    Domain.SOCIAL: ("Tidak memenuhi kriteria penerima", "Anggaran bantuan tahun ini habis",
                    "Sudah menerima bantuan yang sama tahun ini", "Berkas kurang: surat keterangan desa"),
    Domain.EDUCATION: ("Sekolah swasta belum bekerja sama", "Sudah terdaftar sebagai penerima PIP",
                       "Berkas kurang: ket. sekolah"),
}
CANCEL_REASONS = ("Warga sudah mengurus sendiri", "Salah instansi tujuan, dirujuk ulang",
                  "Warga pindah ke luar kabupaten", "Warga tidak bisa dihubungi")
CASE_CANCEL_REASONS = ("Pengaduan ganda, sudah tercatat di tiket lain", "Warga mencabut pengaduan",
                       "Warga meninggal dunia", "Sudah ditangani pemerintah desa")
IN_PROCESS_NOTES = ("Sedang verifikasi data DTKS", "Menunggu SK Bupati", "Berkas diteruskan ke pusat",
                    "Dijadwalkan survei rumah", "Menunggu tanda tangan kepala dinas")
REOPEN_NOTE = "Warga membalas 2: layanan belum diterima"
CLOSE_NOTES = {
    Outcome.FULFILLED: ("Semua kebutuhan terpenuhi.", "Warga sudah menerima layanan.", None),
    Outcome.PARTIAL: ("Sebagian kebutuhan terpenuhi, sisanya diarahkan ke desa.", "Sebagian terpenuhi."),
    Outcome.UNFULFILLED: ("Tidak dapat dipenuhi, warga diusulkan masuk DTKS.", "Tidak terpenuhi."),
}

# --------------------------------------------------------------------------- people

MALE_NAMES = ("Sutrisno", "Slamet", "Suparman", "Sukardi", "Mulyono", "Joko", "Agus", "Budi", "Bambang", "Heru",
              "Wahyudi", "Sugeng", "Darmanto", "Paijo", "Sarno", "Kasmin", "Tarno", "Suyanto", "Eko", "Dwi",
              "Teguh", "Rudi", "Ahmad", "Muhammad", "Arif", "Sumarno", "Suwarno", "Karyono", "Ngadiman",
              "Sukiman", "Parmin", "Rahmat", "Supriyadi", "Warsito", "Kusnadi", "Sugiyono", "Mujiono", "Sarmin")
MALE_SECOND = ("Santoso", "Prasetyo", "Setiawan", "Susilo", "Hartono", "Wibowo", "Riyadi", "Sugiarto",
               "Purnomo", "Hidayat", "Fauzi", "Nugroho", "Kurniawan", "Saputro", "Raharjo", "Widodo")
FEMALE_NAMES = ("Sri", "Siti", "Sumarni", "Suparmi", "Tukinem", "Sulastri", "Endang", "Wartini", "Kasmini",
                "Ngatini", "Darmi", "Painem", "Sarmi", "Yuli", "Dewi", "Rina", "Nur", "Ani", "Tri", "Lestari",
                "Marsini", "Sriyatun", "Supini", "Murni", "Eni", "Puji", "Ika", "Wiji", "Umi", "Sunarti")
FEMALE_SECOND = ("Wahyuni", "Aminah", "Rahayu", "Lestari", "Astuti", "Kurniasih", "Hidayah", "Susanti",
                 "Wulandari", "Handayani", "Purwanti", "Nurjanah", "Rahmawati", "Setyaningsih", "Kusrini")
CHILD_MALE = ("Aditya", "Bagus", "Rizky", "Fajar", "Dimas", "Galih", "Yoga", "Reza", "Ilham", "Bima", "Rafi",
              "Danu", "Farhan", "Satria", "Rendi", "Dafa", "Arya", "Kevin")
CHILD_MALE_SECOND = ("Pratama", "Saputra", "Ramadhan", "Nugroho", "Anggoro", "Wicaksono", "Maulana", "Ardiansyah",
                     "Alfarizi", "Kurniawan", "Firmansyah", "Setiawan", "Aditya", "Prakoso")
CHILD_FEMALE = ("Putri", "Nabila", "Salsabila", "Aulia", "Dinda", "Anisa", "Citra", "Intan", "Nadia", "Ayu",
                "Zahra", "Aisyah", "Tiara", "Rani", "Amelia", "Keisha", "Naura", "Dewi")
CHILD_FEMALE_SECOND = ("Lestari", "Rahmawati", "Safitri", "Fitriani", "Permatasari", "Wulandari", "Kartika",
                       "Anggraini", "Oktaviani", "Puspita", "Maharani", "Azzahra", "Ramadhani", "Putri")
FAMILY_RELATIONS = ("anak", "menantu", "cucu", "adik", "kakak", "keponakan")

#: Indonesian mobile prefixes and how common they are in rural Central Java.
MOBILE_PREFIXES = (("0812", 9), ("0813", 8), ("0821", 5), ("0822", 5), ("0823", 3), ("0852", 6), ("0853", 3),
                   ("0857", 6), ("0856", 4), ("0858", 2), ("0878", 3), ("0877", 2), ("0819", 2), ("0895", 3),
                   ("0896", 2), ("0838", 1), ("0831", 1), ("0881", 1))

#: Shares of the phones residents give: own, family, neighbour, RT/RW head, none.
PHONE_OWNERS = ((PhoneOwner.OWN, 76), (PhoneOwner.FAMILY, 9), (PhoneOwner.NEIGHBOUR, 4),
                (PhoneOwner.RT_RW_HEAD, 4), (None, 7))

# --------------------------------------------------------------------------- plans


@dataclass
class _Person:
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
class _Family:
    """A household to register (KK number, address, village)."""

    kk_number: str
    village: str
    address: str
    dtks_id: str | None


@dataclass
class _Step:
    """One thing that happened to a case at ``at``; ``need`` picks the referral."""

    at: datetime
    action: str
    need: int = -1
    by: str = "staff"
    note: str | None = None


@dataclass
class _Plan:
    """One case's story: who, when, what, and the steps that followed."""

    opened_at: datetime
    person: int
    services: list[_ServiceSpec]
    kind: str
    forced_fate: str | None = None
    close: bool | None = None
    unit: str = "sekretariat"
    channel: Channel = Channel.WALK_IN
    urgency: Urgency = Urgency.NORMAL
    summary: str = ""
    steps: list[_Step] = field(default_factory=list)


#: Referral fates: how the agency's side of one referral went.
ACTIVE_FATES = ("silent", "accepted", "in_process")
ENDED_FATES = (("completed", 82), ("rejected", 11), ("cancelled", 5), ("reopened", 2))

#: Cases that must exist however small the demo: kind, forced fate, close, age window in days.
REQUIRED_STORIES: tuple[tuple[str, str | None, bool | None, int, int], ...] = (
    ("open", None, None, 0, 1),
    ("open", None, None, 0, 2),
    ("active", "silent", None, 0, 3),
    ("active", "silent", None, 25, 60),
    ("active", "silent", None, 30, 80),
    ("active", "in_process", None, 10, 20),
    ("active", "accepted", None, 2, 10),
    ("ended", "rejected", True, 40, 200),
    ("ended", "cancelled", True, 40, 200),
    ("ended", "reopened", None, 30, 120),
    ("ended", "completed", False, 30, 90),
    ("ended", "completed", True, 60, 300),
    ("cancelled", None, None, 15, 200),
)

NEVER = datetime.max.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- the builder


class _DemoBuilder:
    """Builds the demo district in the current session, one step of history at a time."""

    def __init__(self, residents: int, random_seed: int) -> None:
        self._travel = time_machine.travel
        self.size = residents
        #: Separate streams, so people do not change with the date the demo is built on.
        self.people_rng = random.Random(f"{random_seed}:people")
        self.rng = random.Random(f"{random_seed}:history")
        self.now = clock.now()
        #: When the district set up SLRT: units, staff and catalogue date from then.
        self.start = self.working_day_back(380)
        self.phones: set[str] = set()
        self.niks: set[str] = set()
        self.kks: set[str] = set()
        self.regions: dict[str, Region] = {}
        self.villages: list[tuple[str, int]] = []
        self.units: dict[str, Unit] = {}
        self.unit_of_village: dict[str, str] = {}
        self.staff: dict[str, Staff] = {}
        self.documents: dict[str, Document] = {}
        self.agencies: dict[str, Agency] = {}
        self.services: dict[str, Service] = {}
        self.people: list[_Person] = []
        self.families: list[_Family] = []
        self.resident_rows: list[Resident | None] = []

    # ----------------------------------------------------------------- time

    @contextmanager
    def at(self, moment: datetime) -> Iterator[None]:
        """Run the block with the clock (and every timestamp default) at ``moment``."""
        with self._travel(moment, tick=False):
            yield

    def office_moment(self, day: date) -> datetime:
        """Return a random office-hours moment (07:30-15:30 local) on ``day``, as UTC."""
        minutes = self.rng.randint(7 * 60 + 30, 15 * 60 + 30)
        local = datetime.combine(day, time(minutes // 60, minutes % 60, self.rng.randint(0, 59)),
                                 clock.local_zone())
        return local.astimezone(UTC)

    def later(self, moment: datetime, days: int) -> datetime:
        """Return a moment ``days`` working days after ``moment`` (0: later the same day if open)."""
        if days == 0:
            candidate = moment + timedelta(minutes=self.rng.randint(15, 150))
            if clock.to_local(candidate).hour < 16:
                return candidate
            days = 1
        return self.office_moment(workdays.add_working_days(clock.to_local(moment).date(), days))

    def working_day_back(self, days_ago: int) -> datetime:
        """Return an office moment on the working day on or before ``days_ago`` days ago, in the past."""
        day = clock.to_local(self.now).date() - timedelta(days=days_ago)
        for _ in range(30):
            if workdays.is_working_day(day):
                moment = self.office_moment(day)
                if moment < self.now:
                    return moment
                if day == clock.to_local(self.now).date() and clock.to_local(self.now).hour >= 8:
                    return self.now - timedelta(minutes=self.rng.randint(5, 60))
            day -= timedelta(days=1)
        raise RuntimeError("no working day found in a month")

    # ----------------------------------------------------------------- identifiers

    def new_phone(self, rng: random.Random) -> str:
        """Return a fresh, valid Indonesian mobile number in E.164."""
        prefixes, weights = zip(*MOBILE_PREFIXES, strict=True)
        while True:
            prefix = rng.choices(prefixes, weights)[0]
            rest = rng.randint(10 ** 7, 10 ** 8 - 1) if rng.random() < 0.8 else rng.randint(10 ** 6, 10 ** 7 - 1)
            number = normalize_mobile(f"{prefix}{rest}")
            if number not in self.phones:
                self.phones.add(number)
                return number

    def new_nik(self, district: str, birth: date, sex: Sex) -> str:
        """Return a fresh NIK: kecamatan code, birth date (day + 40 for women), sequence."""
        day = birth.day + (40 if sex == Sex.FEMALE else 0)
        stem = f"{district.replace('.', '')}{day:02d}{birth.month:02d}{birth.year % 100:02d}"
        while True:
            nik = f"{stem}{self.people_rng.randint(1, 400):04d}"
            if nik not in self.niks:
                self.niks.add(nik)
                return nik

    def new_kk(self, district: str, issued: date) -> str:
        """Return a fresh KK number: kecamatan code, issue date, sequence (never 0000)."""
        stem = f"{district.replace('.', '')}{issued:%d%m%y}"
        while True:
            kk = f"{stem}{self.people_rng.randint(1, 2000):04d}"
            if kk not in self.kks:
                self.kks.add(kk)
                return kk

    # ----------------------------------------------------------------- district

    def build_district(self) -> None:
        """Add the regions, the secretariat and the Puskesos posts."""
        province = Region(code=PROVINCE[0], name=PROVINCE[1], level=RegionLevel.PROVINCE)
        regency = Region(code=REGENCY[0], name=REGENCY[1], level=RegionLevel.REGENCY, parent=province)
        db.session.add_all([province, regency])
        for code, name, villages in DISTRICTS:
            district = Region(code=code, name=name, level=RegionLevel.DISTRICT, parent=regency)
            self.regions[code] = district
            for suffix, village_name, weight in villages:
                village_code = f"{code}.{suffix}"
                self.regions[village_code] = Region(code=village_code, name=village_name,
                                                    level=RegionLevel.VILLAGE, parent=district)
                self.villages.append((village_code, weight))
        db.session.add_all(self.regions.values())

        name, address, phone = SECRETARIAT
        secretariat = Unit(name=name, kind=UnitKind.SECRETARIAT, region=regency, address=address, phone=phone)
        self.units["sekretariat"] = secretariat
        for key, village_code, post_name, post_address, post_phone in PUSKESOS:
            self.units[key] = Unit(name=post_name, kind=UnitKind.PUSKESOS, region=self.regions[village_code],
                                   parent=secretariat, address=post_address, phone=post_phone)
            self.unit_of_village[village_code] = key
        db.session.add_all(self.units.values())
        db.session.flush()

    def build_staff(self) -> None:
        """Create the demo logins and the other staff through the domain function."""
        staff_rng = random.Random(self.people_rng.random())
        for role, username, password, full_name, unit in DEMO_LOGINS:
            self.staff[username] = staff_ops.create_staff(
                username=username, full_name=full_name, role=role, unit=self.units[unit], password=password,
                phone=self.new_phone(staff_rng), actor=SYSTEM_ACTOR)
        for role, username, full_name, unit in EXTRA_STAFF:
            self.staff[username] = staff_ops.create_staff(
                username=username, full_name=full_name, role=role, unit=self.units[unit],
                password=secrets.token_urlsafe(16), phone=self.new_phone(staff_rng), actor=SYSTEM_ACTOR)

    def staff_of(self, unit: str, *roles: Role) -> list[Staff]:
        """Return the staff of ``unit`` with one of ``roles``, in a stable order."""
        return [s for s in self.staff.values() if s.unit is self.units[unit] and s.role in roles]

    # ----------------------------------------------------------------- catalogue

    def build_catalogue(self) -> None:
        """Add the documents, the agencies with their contacts, and the services."""
        contact_rng = random.Random(self.people_rng.random())
        for code, name, sms_name in DOCUMENTS:
            self.documents[code] = Document(code=code, name=name, sms_name=sms_name)
        db.session.add_all(self.documents.values())
        for spec in AGENCIES:
            first, every, most = spec.reminders or (None, None, None)
            agency = Agency(name=spec.name, short_name=spec.short_name, kind=spec.kind, level=spec.level,
                            address=spec.address, phone=spec.phone, reminder_first_days=first,
                            reminder_every_days=every, reminder_max=most)
            agency.contacts = [
                AgencyContact(name=name, phone=self.new_phone(contact_rng), is_head=is_head,
                              receives_reminders=receives)
                for name, is_head, receives in spec.contacts
            ]
            self.agencies[spec.key] = agency
        db.session.add_all(self.agencies.values())
        for spec in SERVICES:
            first, every, most = spec.reminders
            self.services[spec.code] = Service(
                code=spec.code, name=spec.name, short_name=spec.short_name, domain=spec.domain,
                description=spec.description, default_agency=self.agencies[spec.agency], sla_days=spec.sla_days,
                reminder_first_days=first, reminder_every_days=every, reminder_max=most)
        db.session.add_all(self.services.values())
        db.session.flush()
        db.session.execute(service_document.insert(), [
            {"service_id": self.services[spec.code].id, "document_id": self.documents[code].id, "position": i}
            for spec in SERVICES for i, code in enumerate(spec.documents)
        ])
        for service in self.services.values():
            db.session.expire(service, ["documents"])

    # ----------------------------------------------------------------- people

    def draw_people(self) -> None:
        """Draw households and residents (names, birth dates, NIK, phones) from the people stream."""
        rng = self.people_rng
        codes, weights = zip(*self.villages, strict=True)
        this_year = clock.to_local(self.now).year
        while len(self.people) < self.size:
            village = rng.choices(codes, weights)[0]
            district = village.rsplit(".", 1)[0]
            is_kelurahan = village.rsplit(".", 1)[1].startswith("1")
            rt, rw = rng.randint(1, 6), rng.randint(1, 4)
            if is_kelurahan:
                address = (f"{rng.choice(STREETS)} No. {rng.randint(1, 120)} RT {rt:02d}/RW {rw:02d}, "
                           f"Kel. {self.regions[village].name}")
            else:
                address = f"Dk. {rng.choice(DUKUH)} RT {rt:02d}/RW {rw:02d}, Desa {self.regions[village].name}"
            members = self._draw_members(rng, this_year)
            has_kk = rng.random() < 0.92
            household = None
            if has_kk:
                youngest = max(m[2] for m in members)
                issued = _random_date(rng, max(youngest, date(2008, 1, 1)), date(this_year - 1, 12, 31))
                dtks = f"{rng.randint(10 ** 11, 10 ** 12 - 1)}" if rng.random() < 0.6 else None
                self.families.append(_Family(self.new_kk(district, issued), village, address, dtks))
                household = len(self.families) - 1
            else:
                members = members[:1]
            for name, sex, birth in members:
                if len(self.people) >= self.size:
                    break
                owner, owner_name, phone = self._draw_phone(rng, name, sex, birth, this_year)
                self.people.append(_Person(
                    name=name, sex=sex, birth_date=birth, village=village, nik=self.new_nik(district, birth, sex),
                    address=address, phone=phone, phone_owner=owner, phone_owner_name=owner_name,
                    household=household))

    def _draw_members(self, rng: random.Random, this_year: int) -> list[tuple[str, Sex, date]]:
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

    def _draw_phone(self, rng: random.Random, name: str, sex: Sex, birth: date,
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
        return owner, holder, self.new_phone(rng)

    # ----------------------------------------------------------------- plans

    def plan_cases(self) -> list[_Plan]:
        """Decide every case: when, for whom, which needs, and what happened to it since."""
        count = max(len(REQUIRED_STORIES), round(self.size * 1.3))
        stories: list[tuple[datetime, str, str | None, bool | None]] = []
        for kind, fate, close, low, high in REQUIRED_STORIES:
            stories.append((self.working_day_back(self.rng.randint(low, high)), kind, fate, close))
        while len(stories) < count:
            moment = self.working_day_back(self.rng.randint(0, 364))
            stories.append((moment, self._kind_for_age((self.now - moment).days), None, None))
        stories.sort(key=lambda story: story[0])

        busy: dict[tuple[int, str], datetime] = {}
        plans = []
        for opened_at, kind, fate, close in stories:
            plan = self._draw_case(opened_at, kind, fate, close, busy)
            if plan is None:
                continue
            self._draw_steps(plan)
            for need, spec in enumerate(plan.services):
                busy[(plan.person, spec.code)] = self._ended_at(plan, need)
            plans.append(plan)
        return plans

    def _kind_for_age(self, days: int) -> str:
        """Return what a case opened ``days`` ago is likely to have become."""
        if days <= 2:
            return self.rng.choices(("open", "active"), (40, 60))[0]
        if days <= 25:
            return self.rng.choices(("active", "ended", "cancelled"), (50, 45, 5))[0]
        if days <= 90:
            return self.rng.choices(("active", "ended", "cancelled"), (8, 87, 5))[0]
        return self.rng.choices(("active", "ended", "cancelled"), (1, 95, 4))[0]

    def _draw_case(self, opened_at: datetime, kind: str, fate: str | None, close: bool | None,
                   busy: dict[tuple[int, str], datetime]) -> _Plan | None:
        """Pick the main need, a resident it fits, companion needs, unit, channel and wording."""
        rng = self.rng
        day = clock.to_local(opened_at).date()
        for _ in range(20):
            main = rng.choices(SERVICES, [s.weight for s in SERVICES])[0]
            candidates = [i for i, p in enumerate(self.people)
                          if _fits(main, p, day) and busy.get((i, main.code), opened_at) <= opened_at
                          and (fate != "reopened" or p.phone)]
            if candidates:
                break
        else:
            return None
        person = rng.choices(candidates, [1 / (1 + self.people[i].cases) ** 3 for i in candidates])[0]
        services = [main]
        if rng.random() < 0.2:
            for code in main.companions:
                spec = _service_spec(code)
                if _fits(spec, self.people[person], day) and busy.get((person, code), opened_at) <= opened_at:
                    services.append(spec)
                    if rng.random() < 0.8:
                        break
        self.people[person].cases += 1
        if self.people[person].first_case_at is None:
            self.people[person].first_case_at = opened_at
        unit = self.unit_of_village.get(self.people[person].village, "sekretariat")
        if unit != "sekretariat" and rng.random() < 0.12:
            unit = "sekretariat"  # came to the district office in town instead
        if unit == "sekretariat":
            channel = rng.choices((Channel.WALK_IN, Channel.PHONE, Channel.OUTREACH, Channel.SMS), (60, 15, 10, 15))[0]
        else:
            channel = rng.choices((Channel.PUSKESOS, Channel.OUTREACH, Channel.WALK_IN, Channel.PHONE, Channel.SMS),
                                  (55, 20, 10, 10, 5))[0]
        if main.code in ("RS_KERINGANAN", "KEBAKARAN", "PEMULANGAN"):
            urgency = rng.choices((Urgency.NORMAL, Urgency.URGENT, Urgency.EMERGENCY), (40, 48, 12))[0]
        else:
            urgency = rng.choices((Urgency.NORMAL, Urgency.URGENT), (92, 8))[0]
        summary = rng.choice(SUMMARIES[main.code])
        if len(services) > 1:
            summary += " Juga minta dibantu: " + ", ".join(s.short_name for s in services[1:]) + "."
        return _Plan(opened_at=opened_at, person=person, services=services, kind=kind, forced_fate=fate,
                     close=close, unit=unit, channel=channel, urgency=urgency, summary=summary)

    def _draw_steps(self, plan: _Plan) -> None:
        """Write the case's story as dated steps; steps after now are left out (not happened yet)."""
        rng = self.rng
        if plan.kind == "open":
            return
        if plan.kind == "cancelled" and rng.random() < 0.5:
            # withdrawn before anyone referred it
            plan.steps.append(_Step(self.later(plan.opened_at, rng.randint(0, 2)), "cancel_case",
                                    note=rng.choice(CASE_CANCEL_REASONS)))
            return
        first_refer = self.later(plan.opened_at, rng.choices((0, 1, 2), (70, 20, 10))[0])
        ends: list[datetime] = []
        for need, spec in enumerate(plan.services):
            sent = first_refer if need == 0 else first_refer + timedelta(minutes=rng.randint(2, 20))
            plan.steps.append(_Step(sent, "refer", need))
            if plan.kind == "cancelled":
                continue
            if plan.kind == "active" and need == 0:
                fate = plan.forced_fate or rng.choice(ACTIVE_FATES)
            elif plan.kind == "active":
                fate = rng.choice(ACTIVE_FATES + ("completed",))
            else:
                names, weights = zip(*ENDED_FATES, strict=True)
                fate = (plan.forced_fate if need == 0 else None) or rng.choices(names, weights)[0]
                if fate == "reopened" and not self.people[plan.person].phone:
                    fate = "completed"
            ends.append(self._draw_referral(plan, need, spec, sent, fate))
        if plan.kind == "cancelled":
            plan.steps.append(_Step(self.later(first_refer, rng.randint(1, 4)), "cancel_case",
                                    note=rng.choice(CASE_CANCEL_REASONS)))
        elif plan.kind == "ended" and ends and all(e != NEVER for e in ends):
            close = plan.close if plan.close is not None else rng.random() < 0.95
            if close:
                plan.steps.append(_Step(self.later(max(ends), rng.randint(1, 8)), "close"))
        if rng.random() < 0.08:
            plan.steps.append(_Step(self.later(plan.opened_at, rng.randint(1, 3)), "reassign"))
        plan.steps = sorted((s for s in plan.steps if s.at <= self.now), key=lambda s: s.at)

    def _draw_referral(self, plan: _Plan, need: int, spec: _ServiceSpec, sent: datetime, fate: str) -> datetime:
        """Add the agency's answers to one referral; return when it ended (NEVER if it has not)."""
        rng = self.rng
        steps = plan.steps
        domain = spec.domain

        def answer(at: datetime, action: str, note: str | None = None, by: str | None = None) -> datetime:
            steps.append(_Step(at, action, need, by or rng.choices(("contact", "staff"), (55, 45))[0], note))
            return at

        if fate == "silent":
            return NEVER
        if fate in ("accepted", "in_process"):
            accepted = answer(self.later(sent, rng.randint(0, 2)), "accept")
            if fate == "in_process":
                answer(self.later(accepted, rng.randint(1, 3)), "in_process", rng.choice(IN_PROCESS_NOTES),
                       by=rng.choices(("contact", "staff"), (70, 30))[0])
            return NEVER
        if fate == "cancelled":
            return answer(self.later(sent, rng.randint(1, 5)), "cancel", rng.choice(CANCEL_REASONS), by="staff")
        if fate == "rejected":
            at = sent
            if rng.random() < 0.4:
                at = answer(self.later(at, rng.randint(0, 2)), "accept")
            return answer(self.later(at, rng.randint(1, spec.sla_days + 2)), "reject",
                          rng.choice(REJECT_REASONS[domain]))
        # completed or reopened
        late = rng.random() < 0.22
        total = spec.sla_days + rng.randint(1, spec.sla_days) if late else rng.randint(1, spec.sla_days)
        at = sent
        if total > 1 and rng.random() < 0.5:
            accept_after = rng.randint(0, min(2, total - 1))
            at = answer(self.later(at, accept_after), "accept")
            if total - accept_after > 2 and rng.random() < 0.35:
                answer(self.later(at, 1), "in_process", rng.choice(IN_PROCESS_NOTES))
        done = answer(self.later(sent, total), "complete", rng.choice(COMPLETION_NOTES[spec.code]))
        if fate != "reopened":
            return done
        reopened = answer(self.later(done, rng.randint(1, 3)), "reopen", REOPEN_NOTE, by="resident")
        again = answer(self.later(reopened, 1), "accept")
        return answer(self.later(again, rng.randint(1, spec.sla_days)), "complete",
                      rng.choice(COMPLETION_NOTES[spec.code]))

    def _ended_at(self, plan: _Plan, need: int) -> datetime:
        """Return when the case's ``need`` stopped being active, or NEVER when it still is."""
        if plan.kind == "open":
            return NEVER
        ended = NEVER
        for step in plan.steps:
            if step.action == "cancel_case":
                return step.at
            if step.need == need and step.action in ("complete", "reject", "cancel"):
                ended = step.at
            elif step.need == need and step.action == "reopen":
                ended = NEVER
        return ended

    # ----------------------------------------------------------------- registering

    def register_people(self) -> None:
        """Register households and residents, each shortly before their first case."""
        rng = self.rng
        for person in self.people:
            first = person.first_case_at
            if first is not None and rng.random() < 0.7:
                person.registered_at = first - timedelta(minutes=rng.randint(5, 40))  # in the same visit
            else:
                newest = (self.now - first).days + 1 if first is not None else 0
                person.registered_at = self.working_day_back(rng.randint(newest, max(newest, 375)))
        households: dict[int, Household] = {}
        order = sorted(range(len(self.people)), key=lambda i: self.people[i].registered_at)
        self.resident_rows = [None] * len(self.people)
        for index in order:
            person = self.people[index]
            unit = self.unit_of_village.get(person.village, "sekretariat")
            clerk = rng.choice(self.staff_of(unit, Role.FRONT_OFFICE, Role.FACILITATOR))
            village = self.regions[person.village]
            household = None
            if person.household is not None:
                household = households.get(person.household)
                if household is None:
                    family = self.families[person.household]
                    with self.at(person.registered_at - timedelta(minutes=2)):
                        household = residents.register_household(
                            kk_number=family.kk_number, address=family.address, village=village, actor=clerk,
                            dtks_id=family.dtks_id)
                    households[person.household] = household
            with self.at(person.registered_at):
                self.resident_rows[index] = residents.register_resident(
                    nik=person.nik, name=person.name, sex=person.sex, birth_date=person.birth_date,
                    village=village, address=person.address, actor=clerk, phone=person.phone,
                    phone_owner=person.phone_owner, phone_owner_name=person.phone_owner_name,
                    household=household)

    # ----------------------------------------------------------------- history

    def run(self, plans: Sequence[_Plan]) -> None:
        """Replay every case's story through the domain functions, each step at its moment."""
        for plan in plans:
            case = self._open(plan)
            made: dict[int, Referral] = {}
            for step in plan.steps:
                with self.at(step.at):
                    self._apply(plan, case, made, step)

    def _open(self, plan: _Plan) -> Case:
        rng = self.rng
        if plan.channel == Channel.OUTREACH and plan.unit != "sekretariat":
            opener = rng.choice(self.staff_of(plan.unit, Role.FACILITATOR))
        elif plan.unit == "sekretariat":
            role = Role.FRONT_OFFICE if rng.random() < 0.75 else Role.BACK_OFFICE
            opener = rng.choice(self.staff_of(plan.unit, role))
        else:
            opener = rng.choice(self.staff_of(plan.unit, Role.FRONT_OFFICE, Role.FACILITATOR))
        if plan.unit == "sekretariat":
            assignee = rng.choice(self.staff_of(plan.unit, Role.BACK_OFFICE))
        else:
            assignee = rng.choice(self.staff_of(plan.unit, Role.FACILITATOR))
        with self.at(plan.opened_at):
            return cases.open_case(
                resident=self.resident_rows[plan.person], unit=self.units[plan.unit], channel=plan.channel,
                summary=plan.summary, needs=[self.services[s.code] for s in plan.services], actor=opener,
                urgency=plan.urgency, assignee=assignee)

    def _apply(self, plan: _Plan, case: Case, made: dict[int, Referral], step: _Step) -> None:
        """Make one step of a case's story with the domain function that does it."""
        rng = self.rng
        back_office = self.staff_of("sekretariat", Role.BACK_OFFICE)
        overseer = self.staff["supervisor"] if rng.random() < 0.8 else self.staff["manager"]
        if step.action == "refer":
            self._refer(plan, case, made, step.need, rng.choice(back_office) if rng.random() < 0.9 else overseer)
            return
        if step.action == "close":
            outcome = _outcome(case)
            cases.close_case(case, outcome=outcome, actor=overseer, note=rng.choice(CLOSE_NOTES[outcome]))
            return
        if step.action == "cancel_case":
            if case.status in (CaseStatus.OPEN, CaseStatus.IN_PROGRESS):
                cases.cancel_case(case, reason=step.note or CASE_CANCEL_REASONS[0], actor=overseer)
            return
        if step.action == "reassign":
            if case.status in (CaseStatus.CLOSED, CaseStatus.CANCELLED):
                return
            others = [s for s in self.staff_of(plan.unit, Role.FACILITATOR, Role.BACK_OFFICE)
                      if s is not case.assignee] or [s for s in back_office if s is not case.assignee]
            if others:
                cases.reassign_case(case, assignee=rng.choice(others), actor=overseer)
            return
        referral = made.get(step.need)
        if referral is None or case.status == CaseStatus.CANCELLED:
            return
        actor = self._answerer(referral, step.by, back_office)
        if step.action == "accept":
            referrals.accept(referral, actor=actor)
        elif step.action == "in_process":
            referrals.mark_in_process(referral, actor=actor, note=step.note)
        elif step.action == "complete":
            referrals.complete(referral, actor=actor, note=step.note)
        elif step.action == "reject":
            referrals.reject(referral, reason=step.note or REJECT_REASONS[Domain.HEALTH][0], actor=actor)
        elif step.action == "cancel":
            referrals.cancel_referral(referral, reason=step.note or CANCEL_REASONS[0], actor=actor)
        elif step.action == "reopen":
            referrals.reopen(referral, actor=actor, note=step.note)
        else:
            raise ValueError(f"unknown demo step {step.action!r}")

    def _refer(self, plan: _Plan, case: Case, made: dict[int, Referral], need: int, actor: Staff) -> None:
        rng = self.rng
        spec = plan.services[need]
        documents = list(spec.documents)
        if "FC_KTP" in documents and "FC_AKTA" in documents:
            # either is enough: most bring the KTP/KIA, children the birth certificate
            documents.remove("FC_AKTA" if rng.random() < 0.7 else "FC_KTP")
        if rng.random() < 0.15:
            documents.remove(rng.choice(documents))
        agency = None
        if spec.other_agency and rng.random() < 0.1:
            agency = self.agencies[spec.other_agency]
        try:
            made[need] = referrals.refer(case, service=self.services[spec.code], actor=actor, agency=agency,
                                         documents_checked=documents)
        except referrals.DuplicateReferral:
            # the plan avoids this; should it happen, staff confirm as they would on screen
            made[need] = referrals.refer(case, service=self.services[spec.code], actor=actor, agency=agency,
                                         documents_checked=documents, confirm_duplicate=True)

    def _answerer(self, referral: Referral, by: str, back_office: list[Staff]) -> Actor:
        """Return who answers: a contact of the agency by SMS, back-office staff, or the resident."""
        if by == "resident" and referral.case.resident.phone:
            return ResidentPhone(referral.case.resident.phone)
        if by == "contact":
            contacts = [c for c in referral.agency.contacts if c.is_active and c.receives_reminders]
            if contacts:
                return self.rng.choice(contacts)
        return self.rng.choice(back_office)

    # ----------------------------------------------------------------- outbox

    def settle_outbox(self) -> None:
        """Mark outbox rows older than two days as the console gateway sent them then.

        This is demo history, not a transition: workers would have sent these long ago.
        Recent rows stay pending for the demo's own worker to send.
        """
        cutoff = self.now - timedelta(days=2)
        rows = db.session.scalars(
            select(SmsMessage).where(SmsMessage.direction == SmsDirection.OUTBOUND,
                                     SmsMessage.status == SmsStatus.PENDING,
                                     SmsMessage.created_at < cutoff).order_by(SmsMessage.id))
        for message in rows:
            sent_at = message.created_at + timedelta(seconds=self.rng.randint(3, 90))
            message.gateway = "console"
            message.provider_id = f"console-{message.id:07d}"
            message.attempts = 1
            message.next_attempt_at = None
            message.sent_at = sent_at
            recent = message.created_at > self.now - timedelta(days=30) and message.audience == SmsAudience.RESIDENT
            draw = self.rng.random()
            message.status = SmsStatus.SENT
            if recent and draw < 0.02:
                # A number that cannot receive: the facilitator is asked to call or visit.
                error = GatewayError("30005", "unknown destination handset (number does not exist)")
                outbox.record_status(message.id, SmsStatus.UNDELIVERED, provider_id=message.provider_id, error=error)
            elif draw < 0.97:
                message.status = SmsStatus.DELIVERED
                message.delivered_at = sent_at + timedelta(seconds=self.rng.randint(2, 300))
            elif recent:  # no receipt ever came: a follow-up, not a resend
                followups.open_for(message, FollowUpReason.NO_RECEIPT, "no delivery receipt after 24 h")
        db.session.flush()

    # ----------------------------------------------------------------- summary

    def summary(self) -> list[str]:
        """Return the lines the CLI prints: what was built, and the state it is in now."""
        def count(model) -> int:
            return db.session.scalar(select(func.count()).select_from(model))

        puskesos = sum(1 for u in self.units.values() if u.kind == UnitKind.PUSKESOS)
        case_states = dict(db.session.execute(select(Case.status, func.count()).group_by(Case.status)).all())
        referral_states = dict(
            db.session.execute(select(Referral.status, func.count()).group_by(Referral.status)).all())
        overdue = db.session.scalar(select(func.count()).select_from(Referral).where(
            Referral.status.in_(REFERRAL_ACTIVE), Referral.due_at < self.now))
        sms = Counter(dict(db.session.execute(
            select(SmsMessage.status, func.count()).group_by(SmsMessage.status)).all()))
        return [
            f"demo data: 1 secretariat, {puskesos} Puskesos, {count(Staff)} staff, {count(Agency)} agencies, "
            f"{count(Service)} services, {count(Resident)} residents, {count(Case)} cases, "
            f"{count(Referral)} referrals",
            "cases: " + ", ".join(f"{s.value} {case_states.get(s, 0)}" for s in CaseStatus),
            "referrals: " + ", ".join(f"{s.value} {referral_states.get(s, 0)}" for s in ReferralStatus)
            + f" ({overdue} overdue)",
            "sms: " + ", ".join(f"{s.value} {n}" for s, n in sorted(sms.items()))
            + f" ({count(FollowUp)} residents to call or visit)",
        ]


# --------------------------------------------------------------------------- helpers


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


def _service_spec(code: str) -> _ServiceSpec:
    return next(spec for spec in SERVICES if spec.code == code)


def _fits(spec: _ServiceSpec, person: _Person, day: date) -> bool:
    """True when ``spec`` is a service for someone of ``person``'s age and sex on ``day``."""
    low, high = spec.ages
    return low <= person.age_on(day) <= high and (spec.sex is None or spec.sex == person.sex)


def _outcome(case: Case) -> Outcome:
    """Return the outcome staff record when closing: by how many referrals were completed."""
    done = sum(1 for r in case.referrals if r.status == ReferralStatus.COMPLETED)
    if done == len(case.referrals):
        return Outcome.FULFILLED
    return Outcome.PARTIAL if done else Outcome.UNFULFILLED


# --------------------------------------------------------------------------- entry point


def seed(residents: int = 200, random_seed: int = 2026) -> list[str]:
    """Build the demo district in the current session (flushed, not committed); return summary lines."""
    if residents < 20:
        raise ValueError("the demo needs at least 20 residents")
    if db.session.scalar(select(Region.id).where(Region.code == REGENCY[0])) is not None:
        raise RuntimeError(f"region {REGENCY[0]} exists already: seed the demo into an empty database")
    builder = _DemoBuilder(residents, random_seed)
    with builder.at(builder.start):
        builder.build_district()
        builder.build_staff()
        builder.build_catalogue()
    builder.draw_people()
    plans = builder.plan_cases()
    builder.register_people()
    builder.run(plans)
    builder.settle_outbox()
    return builder.summary()
