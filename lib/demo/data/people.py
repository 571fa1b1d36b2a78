"""Demo CRM customers: Korean and English names, e-mails, phones and addresses."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta

from lib.demo.data.base import END_TS, Row, seeded_rng, sql_ts, weighted, without_cyclic_gc

CUSTOMER_COUNT = 2000
# Random e-mail draws per customer before the one unique by construction (`local.<id>@domain`):
# at the default size a draw always succeeds within this; at 150,000 customers the random
# forms of the common names run out.
EMAIL_DRAWS = 8
SIGNUP_FIRST = date(2023, 1, 1)
SIGNUP_LAST = date(2026, 10, 31)
NEW_CUSTOMER_SINCE = "2026-08-01"  # signed up in the last three months: segment "new"

# --- name, address and catalogue lists -------------------------------------------------------

# (hangul, romanized, relative frequency): roughly the real distribution, 김 and 이 dominate.
KOREAN_FAMILY_NAMES = [
    ("김", "kim", 21.0), ("이", "lee", 14.7), ("박", "park", 8.4), ("최", "choi", 4.7),
    ("정", "jung", 4.3), ("강", "kang", 2.3), ("조", "cho", 2.1), ("윤", "yoon", 2.1),
    ("장", "jang", 2.0), ("임", "lim", 1.7), ("한", "han", 1.5), ("오", "oh", 1.5),
    ("서", "seo", 1.5), ("신", "shin", 1.4), ("권", "kwon", 1.4), ("황", "hwang", 1.4),
    ("안", "ahn", 1.3), ("송", "song", 1.3), ("류", "ryu", 1.2), ("홍", "hong", 1.1),
]  # fmt: skip
KOREAN_GIVEN_NAMES = [
    ("민수", "minsu"), ("서연", "seoyeon"), ("지훈", "jihoon"), ("하은", "haeun"),
    ("도윤", "doyoon"), ("서준", "seojun"), ("지우", "jiwoo"), ("수빈", "subin"),
    ("예준", "yejun"), ("민준", "minjun"), ("지민", "jimin"), ("유진", "yujin"),
    ("현우", "hyunwoo"), ("수아", "sua"), ("지호", "jiho"), ("은서", "eunseo"),
    ("건우", "gunwoo"), ("채원", "chaewon"), ("시우", "siwoo"), ("다은", "daeun"),
    ("준호", "junho"), ("예린", "yerin"), ("성민", "sungmin"), ("지현", "jihyun"),
    ("동현", "donghyun"), ("소영", "soyoung"), ("재원", "jaewon"), ("혜진", "hyejin"),
    ("승우", "seungwoo"), ("나연", "nayeon"), ("태윤", "taeyoon"), ("윤아", "yuna"),
    ("정우", "jungwoo"), ("민지", "minji"), ("우진", "woojin"), ("서현", "seohyun"),
]  # fmt: skip
ENGLISH_FIRST_NAMES = [
    "Emily", "James", "Olivia", "Liam", "Sophia", "Noah", "Ava", "Ethan", "Mia", "Lucas",
    "Grace", "Daniel", "Chloe", "Henry", "Hannah", "Jack", "Lily", "Samuel", "Zoe", "David",
    "Ella", "Ryan", "Nora", "Adam", "Claire", "Owen", "Sarah", "Michael", "Julia", "Thomas",
]  # fmt: skip
ENGLISH_LAST_NAMES = [
    "Clark", "Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Anderson",
    "Thomas", "Jackson", "White", "Harris", "Martin", "Thompson", "Walker", "Young", "Allen",
    "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell",
    "Carter", "Roberts", "Turner",
]  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")

# city -> districts -> streets, each as (Korean, English) so both address styles agree.
City = tuple[str, str, float, list[tuple[str, str, list[tuple[str, str]]]]]
CITIES: list[City] = [
    ("서울특별시", "Seoul", 0.6, [
        ("강남구", "Gangnam-gu", [("테헤란로", "Teheran-ro"), ("강남대로", "Gangnam-daero"),
                                  ("도산대로", "Dosan-daero")]),
        ("마포구", "Mapo-gu", [("양화로", "Yanghwa-ro"), ("월드컵로", "World Cup-ro"),
                               ("와우산로", "Wausan-ro")]),
        ("종로구", "Jongno-gu", [("종로", "Jong-ro"), ("율곡로", "Yulgok-ro")]),
        ("송파구", "Songpa-gu", [("올림픽로", "Olympic-ro"), ("송파대로", "Songpa-daero")]),
        ("용산구", "Yongsan-gu", [("이태원로", "Itaewon-ro"), ("한강대로", "Hangang-daero")]),
        ("서초구", "Seocho-gu", [("서초대로", "Seocho-daero"), ("반포대로", "Banpo-daero")]),
        ("영등포구", "Yeongdeungpo-gu", [("여의대로", "Yeoui-daero"),
                                         ("국제금융로", "Gukjegeumyung-ro")]),
    ]),
    ("부산광역시", "Busan", 0.25, [
        ("해운대구", "Haeundae-gu", [("해운대로", "Haeundae-ro"), ("달맞이길", "Dalmaji-gil")]),
        ("부산진구", "Busanjin-gu", [("중앙대로", "Jungang-daero"), ("서면로", "Seomyeon-ro")]),
        ("수영구", "Suyeong-gu", [("광안해변로", "Gwanganhaebyeon-ro"), ("수영로", "Suyeong-ro")]),
        ("동래구", "Dongnae-gu", [("충렬대로", "Chungnyeol-daero"), ("명륜로", "Myeongnyun-ro")]),
    ]),
    ("인천광역시", "Incheon", 0.15, [
        ("연수구", "Yeonsu-gu", [("컨벤시아대로", "Convensia-daero"),
                                 ("송도과학로", "Songdogwahak-ro")]),
        ("남동구", "Namdong-gu", [("인하로", "Inha-ro"), ("구월로", "Guwol-ro")]),
        ("부평구", "Bupyeong-gu", [("부평대로", "Bupyeong-daero"),
                                   ("경원대로", "Gyeongwon-daero")]),
    ]),
]  # fmt: skip


@without_cyclic_gc
def customers(count: int = CUSTOMER_COUNT) -> list[Row]:
    """`count` CRM customers: ~60% Korean names, ~40% English, unique example.* emails."""
    rng = seeded_rng("customers")
    family = weighted(rng, KOREAN_FAMILY_NAMES, [f[2] for f in KOREAN_FAMILY_NAMES])
    old_segment = weighted(rng, ("vip", "regular", "dormant"), (8, 72, 20))
    status_of = weighted(rng, ("active", "inactive", "blocked"), (85, 10, 5))
    city_of = weighted(rng, CITIES, [c[2] for c in CITIES])
    signup_days = (SIGNUP_LAST - SIGNUP_FIRST).days
    used_emails: set[str] = set()
    rows: list[Row] = []
    for cid in range(1, count + 1):
        korean = rng.random() < 0.6
        if korean:
            fam_ko, fam_rom, _ = family()
            given_ko, given_rom = rng.choice(KOREAN_GIVEN_NAMES)
            name, local = fam_ko + given_ko, f"{given_rom}.{fam_rom}"
        else:
            first, last = rng.choice(ENGLISH_FIRST_NAMES), rng.choice(ENGLISH_LAST_NAMES)
            name, local = f"{first} {last}", f"{first}.{last}".lower()
        for _ in range(EMAIL_DRAWS):
            email = f"{local}{rng.randint(1, 99)}@{rng.choice(EMAIL_DOMAINS)}"
            if email not in used_emails:
                break
        else:
            # A drawn local part ends in a letter, then digits; this one has a dot before the
            # id, so it can equal no draw and no other customer's.
            email = f"{local}.{cid}@{rng.choice(EMAIL_DOMAINS)}"
        used_emails.add(email)
        phone = f"010-{rng.randint(2000, 9999)}-{rng.randint(0, 9999):04d}"
        signup = SIGNUP_FIRST + timedelta(days=rng.randrange(signup_days + 1))
        signup_date = signup.isoformat()
        segment = "new" if signup_date >= NEW_CUSTOMER_SINCE else old_segment()
        status = status_of()
        signup_ts = datetime(signup.year, signup.month, signup.day)
        span = int((END_TS - signup_ts).total_seconds())
        updated = signup_ts + timedelta(seconds=rng.randint(0, span))
        rows.append(
            {
                "id": cid,
                "name": name,
                "email": email,
                "phone": phone,
                "address": _address(
                    rng, city_of, korean_style=rng.random() < (0.85 if korean else 0.3)
                ),
                "segment": segment,
                "status": status,
                "signup_date": signup_date,
                "updated_at": sql_ts(updated),
            }
        )
    return rows


def _address(rng: random.Random, city_of: Callable[[], City], korean_style: bool) -> str:
    city = city_of()
    city_ko, city_en, _, districts = city
    district_ko, district_en, streets = rng.choice(districts)
    street_ko, street_en = rng.choice(streets)
    number = rng.randint(1, 399)
    detail = rng.randrange(3)
    floor, unit = rng.randint(2, 20), rng.randint(101, 1504)
    if korean_style:
        extra = ["", f" {floor}층", f" {rng.randint(101, 112)}동 {unit}호"][detail]
        return f"{city_ko} {district_ko} {street_ko} {number}{extra}"
    extra = ["", f", {floor}F", f", Apt {unit}"][detail]
    return f"{city_en}, {district_en}, {number} {street_en}{extra}"
