"""The demo district as plain data: Kabupaten Blora, its Puskesos, staff, agencies, people, stories.

Nothing here touches the database; the builders (slrt.demo.people, stories, build) turn it
into residents, case histories and rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from slrt.catalogue import DEFAULT_SERVICES, CatalogueService
from slrt.models.enums import (
    AgencyKind,
    AgencyLevel,
    Domain,
    Outcome,
    PhoneOwner,
    Role,
    Sex,
)

# --------------------------------------------------------------------------- logins

#: The demo accounts: role, username, password, full name, unit key (see PUSKESOS).
DEMO_LOGINS: tuple[tuple[Role, str, str, str, str], ...] = (
    (Role.MANAGER, "manager", "demo-manager-2026", "Bambang Sulistyo, S.Sos.", "sekretariat"),
    (Role.SUPERVISOR, "supervisor", "demo-supervisor-2026", "Endah Purwaningsih, S.Sos.", "sekretariat"),
    (Role.FACILITATOR, "fasilitator", "demo-fasilitator-2026", "Agus Prasetyo", "jepon"),
    (Role.FRONT_OFFICE, "frontoffice", "demo-frontoffice-2026", "Dwi Lestari", "jepon"),
    (Role.BACK_OFFICE, "backoffice", "demo-backoffice-2026", "Rina Kusumawati", "sekretariat"),
    (Role.FRONT_OFFICE, "loket", "demo-loket-2026", "Ratna Wulandari", "sekretariat"),
)

#: The demo manager's authenticator key (base32; demo only, public like the demo passwords):
#: managers sign in with a code from an authenticator app, and a newcomer types this key into one.
DEMO_AUTHENTICATOR_KEY = "SLRTDEMOBLORAMANAGERKEYONLYDEMOX"

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
# The documents and services are the default catalogue (slrt.catalogue); the agencies are the demo's.


@dataclass(frozen=True)
class AgencySpec:
    """A partner agency: what the catalogue row says, its contacts and its reminder rhythm."""

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


AGENCIES: tuple[AgencySpec, ...] = (
    AgencySpec("dinkes", "Dinas Kesehatan Kabupaten Blora", "Dinkes Blora", AgencyKind.HEALTH_OFFICE,
                AgencyLevel.DISTRICT, "Jl. Dr. Sutomo No. 46, Blora", "(0296) 531071",
                (("Hendro Wibowo, S.KM.", False, True), ("Ratna Dewi Anggraini", False, True),
                 ("dr. Lilik Hernanto", True, False))),
    AgencySpec("bpjs", "BPJS Kesehatan Cabang Blora", "BPJS Blora", AgencyKind.BPJS, AgencyLevel.DISTRICT,
                "Jl. Pemuda No. 40, Blora", "(0296) 532910",
                (("Fitri Handayani", False, True), ("Arif Setyawan", True, True))),
    AgencySpec("rsud", "RSUD dr. R. Soetijono Blora", "RSUD Blora", AgencyKind.HOSPITAL, AgencyLevel.DISTRICT,
                "Jl. Dr. Sutomo No. 42, Blora", "(0296) 531118",
                (("Sri Suryani, Amd.Kep.", False, True), ("Bayu Kristanto", False, True),
                 ("dr. Puji Rahayu, M.Kes.", True, False))),
    AgencySpec("disdik", "Dinas Pendidikan Kabupaten Blora", "Disdik Blora", AgencyKind.EDUCATION_OFFICE,
                AgencyLevel.DISTRICT, "Jl. Halmahera No. 1, Blora", "(0296) 531426",
                (("Yuliana Kartikasari", False, True), ("Drs. Sutikno", True, True))),
    AgencySpec("baznas", "Baznas Kabupaten Blora", "Baznas Blora", AgencyKind.BAZNAS, AgencyLevel.DISTRICT,
                "Jl. Alun-alun Utara No. 1, Blora", "(0296) 533215",
                (("Ahmad Mustofa", True, True),)),
    AgencySpec("dukcapil", "Dinas Kependudukan dan Pencatatan Sipil Kabupaten Blora", "Disdukcapil Blora",
                AgencyKind.CIVIL_REGISTRY, AgencyLevel.DISTRICT, "Jl. Nusantara No. 27, Blora", "(0296) 531560",
                (("Eko Budi Santoso", False, True), ("Retno Wulandari, S.H.", True, True))),
    AgencySpec("dinsos_prov", "Dinas Sosial Provinsi Jawa Tengah", "Dinsos Jateng", AgencyKind.SOCIAL_OFFICE,
                AgencyLevel.PROVINCE, "Jl. Pahlawan No. 12, Semarang", "(024) 8311729",
                (("Galih Permadi", False, True), ("Dra. Ambarwati", True, False)),
                reminders=(3, 3, 3)),
    AgencySpec("kemensos", "Kementerian Sosial Republik Indonesia", "Kemensos", AgencyKind.SOCIAL_OFFICE,
                AgencyLevel.NATIONAL, "Jl. Salemba Raya No. 28, Jakarta Pusat", "(021) 3103591",
                (("Andreas Situmorang", False, True), ("Dian Puspitasari", True, True)),
                reminders=(5, 5, 2)),
)


@dataclass(frozen=True)
class ServiceSpec:
    """How the demo uses a service of the default catalogue (slrt.catalogue): its agency, who asks for it how often."""

    code: str
    #: The demo agency it is referred to by default (AGENCIES key).
    agency: str
    #: Share of new cases whose main need it is (per cent of all cases).
    weight: int
    #: Another agency staff sometimes choose instead of the default.
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
    ServiceSpec("BPJS_PBI_AKTIVASI", "dinkes", 28, other_agency="bpjs", companions=("ADMINDUK", "BANSOS")),
    ServiceSpec("BPJS_PBI_REAKTIVASI", "bpjs", 20, other_agency="dinkes", companions=("ADMINDUK",)),
    ServiceSpec("RS_KERINGANAN", "rsud", 15, companions=("BPJS_PBI_AKTIVASI", "BANSOS")),
    ServiceSpec("JAMPERSAL", "dinkes", 7, ages=(18, 42), sex=Sex.FEMALE, companions=("BPJS_PBI_AKTIVASI",)),
    ServiceSpec("BANSOS", "baznas", 10, other_agency="dinsos_prov", ages=(25, 99), companions=("BPJS_PBI_AKTIVASI",)),
    ServiceSpec("ADMINDUK", "dukcapil", 6, companions=("BPJS_PBI_AKTIVASI",)),
    ServiceSpec("KEBAKARAN", "dinsos_prov", 3, other_agency="baznas", ages=(25, 99), companions=("BANSOS", "ADMINDUK")),
    ServiceSpec("PEMULANGAN", "dinsos_prov", 3, ages=(16, 65)),
    ServiceSpec("EKS_NAPI", "kemensos", 3, ages=(20, 60), companions=("ADMINDUK", "BPJS_PBI_AKTIVASI")),
    ServiceSpec("SKTM_SEKOLAH", "disdik", 3, ages=(6, 19), companions=("KIP",)),
    ServiceSpec("KIP", "disdik", 2, ages=(6, 22), companions=("SKTM_SEKOLAH",)),
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
