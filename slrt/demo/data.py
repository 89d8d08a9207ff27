"""The demo district as plain data: Kabupaten Blora, its Puskesos, staff, agencies, people, stories.

Nothing here touches the database; the builders (slrt.demo.people, stories, build) turn it
into residents, case histories and rows.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from slrt.catalogue import DEFAULT_SERVICES, CatalogueService
from slrt.models.enums import (
    Domain,
    Outcome,
    PhoneOwner,
    Role,
    Sex,
)

# --------------------------------------------------------------------------- set-up

#: The demo district is set up as a real one is: ``setup-district 33.16`` from the official
#: region list, then these spreadsheets through the set-up import, in this order (the same
#: files a district fills from the Impor lembar kerja templates).
SETUP_DIR = Path(__file__).with_name("setup")
SETUP_FILES: tuple[tuple[str, str], ...] = (
    ("unit-puskesos.csv", "units"),
    ("lembaga.csv", "agencies"),
    ("kontak-lembaga.csv", "contacts"),
    ("layanan.csv", "services"),
    ("petugas.csv", "staff"),
)

REGENCY = "33.16"
SECRETARIAT_NAME = "Sekretariat SLRT Kabupaten Blora"
SECRETARIAT_ADDRESS = "Jl. Pemuda No. 16, Blora"
SECRETARIAT_PHONE = "(0296) 531234"
#: Who signs the secretariat's referral letters (the posts' heads are in unit-puskesos.csv).
SECRETARIAT_HEAD = ("Dra. Endang Sulistyowati, M.Si.", "196909171995032003")


def setup_sheet(name: str) -> list[dict[str, str]]:
    """The rows of one of the demo's set-up spreadsheets, by their Indonesian headers."""
    with (SETUP_DIR / name).open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def _post_villages() -> dict[str, str]:
    """Village code -> the name of the Puskesos post that serves it (from the posts' sheet)."""
    served = {}
    for row in setup_sheet("unit-puskesos.csv"):
        for code in [row["Desa/kelurahan (kode atau nama)"], *row["Desa/kelurahan lain yang dilayani"].split(";")]:
            if code.strip():
                served[code.strip()] = row["Nama"]
    return served


#: Village code -> the Puskesos post serving it; residents of other villages come to the secretariat.
POST_OF_VILLAGE = _post_villages()

# --------------------------------------------------------------------------- logins

#: The demo accounts (rows of petugas.csv, which gives their names and units) and their public passwords.
DEMO_LOGINS: tuple[tuple[Role, str, str], ...] = (
    (Role.MANAGER, "manager", "demo-manager-2026"),
    (Role.SUPERVISOR, "supervisor", "demo-supervisor-2026"),
    (Role.FACILITATOR, "fasilitator", "demo-fasilitator-2026"),
    (Role.FRONT_OFFICE, "frontoffice", "demo-frontoffice-2026"),
    (Role.BACK_OFFICE, "backoffice", "demo-backoffice-2026"),
    (Role.FRONT_OFFICE, "loket", "demo-loket-2026"),
)

#: The demo manager's authenticator key (base32; demo only, public like the demo passwords):
#: managers sign in with a code from an authenticator app, and a newcomer types this key into one.
DEMO_AUTHENTICATOR_KEY = "SLRTDEMOBLORAMANAGERKEYONLYDEMOX"

# --------------------------------------------------------------------------- district

#: The kecamatan and villages residents live in: (code suffix, name, weight in the population),
#: with their codes and names of the official list. Suffixes 1xxx are kelurahan, 2xxx desa.
DISTRICTS: tuple[tuple[str, str, tuple[tuple[str, str, int], ...]], ...] = (
    ("33.16.01", "Jati", (("2003", "Kepoh", 1),)),
    ("33.16.02", "Randublatung", (("1005", "Randublatung", 3), ("2009", "Kutukan", 1), ("1011", "Wulung", 1))),
    ("33.16.05", "Cepu", (("1013", "Balun", 1), ("1014", "Cepu", 3), ("1017", "Ngroto", 1))),
    ("33.16.08", "Jepon", (("1013", "Jepon", 4), ("2024", "Soko", 1), ("2002", "Semanggi", 1))),
    ("33.16.09", "Blora", (("1013", "Kauman", 1), ("1016", "Tempelan", 1), ("1008", "Bangkle", 1))),
    ("33.16.11", "Banjarejo", (("2012", "Gedongsari", 2), ("2013", "Sendangwungu", 1), ("2009", "Banjarejo", 1))),
    ("33.16.12", "Ngawen", (("1018", "Ngawen", 3), ("2013", "Talokwohmojo", 1))),
)

DUKUH = ("Krajan", "Sidomulyo", "Sumberejo", "Tegalrejo", "Karanganyar", "Wonorejo", "Ngampel", "Kedungrejo",
         "Gondang", "Balong", "Jetis", "Sambiroto", "Kalisari", "Mojorejo")
STREETS = ("Jl. Sumbawa", "Jl. Gatot Subroto", "Jl. Pemuda", "Jl. Mr. Iskandar", "Jl. Halmahera", "Jl. Kartini",
           "Jl. Diponegoro", "Jl. Nglanjuk", "Jl. Ronggolawe")

# --------------------------------------------------------------------------- catalogue
# The documents and services are the default catalogue (slrt.catalogue); the agencies, their
# contacts and each service's default agency are the demo's spreadsheets.


@dataclass(frozen=True)
class ServiceSpec:
    """How the demo uses a service of the default catalogue (slrt.catalogue): its agency, who asks for it how often."""

    code: str
    #: Share of new cases whose main need it is (per cent of all cases).
    weight: int
    #: Another agency (its name in SMS) staff sometimes choose instead of the service's default.
    other_agency: str | None = None
    #: Age range (years) of the residents it is for, and the sex when only one.
    ages: tuple[int, int] = (0, 99)
    sex: Sex | None = None
    #: Services often asked for in the same visit.
    companions: tuple[str, ...] = ()

    @property
    def service(self) -> CatalogueService:
        return DEFAULT_SERVICES[self.code]

    @property
    def short_name(self) -> str:
        return self.service.short_name

    @property
    def domain(self) -> Domain:
        return self.service.domain

    @property
    def sla_days(self) -> int:
        return self.service.sla_days

    @property
    def documents(self) -> tuple[str, ...]:
        return self.service.documents


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("BPJS_PBI_AKTIVASI", 28, other_agency="BPJS Blora", companions=("ADMINDUK", "BANSOS")),
    ServiceSpec("BPJS_PBI_REAKTIVASI", 20, other_agency="Dinkes Blora", companions=("ADMINDUK",)),
    ServiceSpec("RS_KERINGANAN", 15, companions=("BPJS_PBI_AKTIVASI", "BANSOS")),
    ServiceSpec("JAMPERSAL", 7, ages=(18, 42), sex=Sex.FEMALE, companions=("BPJS_PBI_AKTIVASI",)),
    ServiceSpec("BANSOS", 10, other_agency="Dinsos Jateng", ages=(25, 99), companions=("BPJS_PBI_AKTIVASI",)),
    ServiceSpec("ADMINDUK", 6, companions=("BPJS_PBI_AKTIVASI",)),
    ServiceSpec("KEBAKARAN", 3, other_agency="Baznas Blora", ages=(25, 99), companions=("BANSOS", "ADMINDUK")),
    ServiceSpec("PEMULANGAN", 3, ages=(16, 65)),
    ServiceSpec("EKS_NAPI", 3, ages=(20, 60), companions=("ADMINDUK", "BPJS_PBI_AKTIVASI")),
    ServiceSpec("SKTM_SEKOLAH", 3, ages=(6, 19), companions=("KIP",)),
    ServiceSpec("KIP", 2, ages=(6, 22), companions=("SKTM_SEKOLAH",)),
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

# --------------------------------------------------------------------------- stories

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
