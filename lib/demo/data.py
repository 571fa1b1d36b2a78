"""Deterministic demo data: customers, sellers, products, orders, payments, spend, sales, tickets.

Every function is pure: it returns new lists of plain dicts (keys in column order) and draws from
its own `random.Random` seeded from SEED and the function's name, so changing one generator does
not shift the numbers of another. Timestamps are UTC text, 'YYYY-MM-DD HH:MM:SS' for the SQL
tables and 'YYYY-MM-DDTHH:MM:SSZ' for the tickets (MongoDB-style documents).

Bump DATA_VERSION whenever the output changes: the seeder rebuilds demo files whose version
differs and leaves current ones (and the edits made to them) alone.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Any

SEED = 20250501
DATA_VERSION = "1"

Row = dict[str, Any]

CUSTOMER_COUNT = 2000
PRODUCTS_PER_SELLER = 50
ORDER_COUNT = 20000
TICKET_COUNT = 3000

FIRST_MONTH = date(2025, 5, 1)
MONTH_COUNT = 18  # 2025-05 .. 2026-10
START_TS = datetime(2025, 5, 1)
END_TS = datetime(2026, 10, 31, 23, 59, 59)
SIGNUP_FIRST = date(2023, 1, 1)
SIGNUP_LAST = date(2026, 10, 31)
NEW_CUSTOMER_SINCE = "2026-08-01"  # signed up in the last three months: segment "new"
PENDING_RECENT_SINCE = "2026-09-01"  # operators work through older orders; pending ones are recent

ORDER_STATUSES = ("pending", "approved", "rejected", "refunded", "partially_refunded")
PAYMENT_STATUS = {
    "pending": "DONE",  # paid at checkout, waiting for an operator's approval
    "approved": "DONE",
    "rejected": "ABORTED",
    "refunded": "CANCELED",
    "partially_refunded": "PARTIAL_CANCELED",
}

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
CITIES: list[tuple[str, str, float, list[tuple[str, str, list[tuple[str, str]]]]]] = [
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

SELLERS: list[Row] = [
    {"id": 1, "name": "Seoul Style Co.", "email": "partners@seoulstyle.example.com"},
    {"id": 2, "name": "Hangang Electronics", "email": "sales@hangang-electronics.example.net"},
    {"id": 3, "name": "Jeju Market", "email": "hello@jejumarket.example.org"},
]

# category -> (KRW price range, item names)
CATALOGUE: dict[str, tuple[int, int, list[str]]] = {
    "fashion": (19_000, 189_000, [
        "Linen Shirt", "Denim Jacket", "Wool Coat", "Cotton Tee", "Pleated Skirt", "Chino Pants",
        "Knit Cardigan", "Leather Belt", "Canvas Sneakers", "Silk Scarf"]),
    "beauty": (9_000, 69_000, [
        "Vitamin C Serum", "Sheet Mask Set", "Sunscreen SPF50", "Cushion Foundation", "Lip Tint",
        "Toner Pads", "Cleansing Oil", "Hand Cream", "Eye Cream", "Hair Essence"]),
    "electronics": (19_000, 399_000, [
        "Wireless Earbuds", "Bluetooth Speaker", "Power Bank 10000mAh", "USB-C Charger",
        "Smart Watch", "Mechanical Keyboard", "Webcam", "Portable SSD", "LED Desk Lamp",
        "Noise Cancelling Headphones"]),
    "home": (8_000, 129_000, [
        "Cotton Towel Set", "Ceramic Mug", "Scented Candle", "Bamboo Cutting Board",
        "Memory Foam Pillow", "Linen Curtain", "Storage Basket", "Stainless Tumbler",
        "Glass Food Container", "Throw Blanket"]),
    "food": (9_000, 159_000, [
        "Jeju Tangerines 3kg", "Korean Pear Gift Set", "Green Tea 100g", "Kimchi 2kg",
        "Hanwoo Beef Gift Set", "Wildflower Honey 500g", "Roasted Seaweed 20 Packs", "Rice 10kg",
        "Citron Tea 1kg", "Dried Persimmons"]),
    "sports": (9_000, 249_000, [
        "Yoga Mat", "Running Shoes", "Dumbbell Set", "Hiking Backpack", "Cycling Gloves",
        "Jump Rope", "Resistance Bands", "Tennis Racket", "Swim Goggles", "Camping Chair"]),
}  # fmt: skip
PRODUCT_VARIANTS = [
    "Classic", "Premium", "Everyday", "Mini", "Pro", "Signature", "Essential", "Deluxe", "Lite",
    "Eco", "Urban", "Travel",
]  # fmt: skip
# Each seller has a focus, together they cover every category.
SELLER_CATEGORY_MIX = {
    1: {"fashion": 22, "beauty": 18, "sports": 10},
    2: {"electronics": 25, "home": 20, "sports": 5},
    3: {"food": 30, "home": 10, "beauty": 10},
}

MARKETING_CHANNELS = {
    # channel: (monthly spend KRW at the start, cost per click, signups per click)
    "search": (12_000_000, 650, 0.035),
    "social": (9_000_000, 420, 0.020),
    "display": (5_000_000, 180, 0.006),
    "email": (1_000_000, 60, 0.050),
    "affiliate": (3_000_000, 500, 0.040),
}
STORES = {
    # store: (monthly revenue KRW at the start, average order value)
    "Gangnam": (180_000_000, 64_000),
    "Hongdae": (120_000_000, 47_000),
    "Busan Seomyeon": (90_000_000, 52_000),
}
MONTHLY_GROWTH = 1.07
SEASON = {11: 1.15, 12: 1.2}  # November sales events and the year-end gift season

TICKET_TOPICS: list[tuple[str, list[str], list[tuple[str, str]]]] = [
    # (topic, tags, [(English subject, Korean subject)])
    ("delivery", ["delivery"], [
        ("My order has not arrived yet", "주문한 상품이 아직 도착하지 않았어요"),
        ("Tracking number does not work", "송장번호 조회가 안 됩니다"),
        ("Wrong delivery address", "배송지를 잘못 입력했어요")]),
    ("damaged", ["delivery", "damaged"], [
        ("Package arrived damaged", "상품이 파손되어 도착했습니다"),
        ("Missing item in my package", "상품이 일부 누락되었어요")]),
    ("refund", ["refund"], [
        ("Refund request", "환불 요청드립니다"),
        ("Refund not received yet", "환불이 아직 안 들어왔어요"),
        ("Partial refund for one item", "일부 상품만 환불하고 싶어요")]),
    ("payment", ["payment"], [
        ("Card was charged twice", "카드 결제가 두 번 되었어요"),
        ("Virtual account deposit not confirmed", "가상계좌 입금 확인이 안 됩니다")]),
    ("account", ["account"], [
        ("Cannot log in", "로그인이 안 돼요"),
        ("Please change my email address", "이메일 주소 변경 부탁드립니다")]),
    ("product", ["product"], [
        ("Question about product size", "상품 사이즈 문의"),
        ("When will this item be back in stock?", "재입고 일정이 궁금합니다")]),
]  # fmt: skip
TICKET_TOPIC_WEIGHTS = [30, 10, 22, 12, 10, 16]
SUPPORT_AGENTS = {
    "Tier 1": ["Jiyoon Park", "Minho Lee", "Emma Wilson"],
    "Billing": ["Sarah Kim", "Daniel Choi"],
    "Logistics": ["Hyejin Jung", "Tom Baker"],
}
TOPIC_TEAM = {"refund": "Billing", "payment": "Billing", "delivery": "Logistics",
              "damaged": "Logistics", "account": "Tier 1", "product": "Tier 1"}  # fmt: skip
AGENT_REPLIES = [
    ("Thanks for reaching out. We are looking into it.",
     "문의 감사합니다. 확인 후 안내드리겠습니다."),
    ("We have checked your order and updated it.", "주문 내역을 확인하고 처리했습니다."),
    ("Is there anything else we can help with?", "더 도와드릴 일이 있을까요?"),
]  # fmt: skip
CUSTOMER_FOLLOW_UPS = [
    ("Could you check again, please?", "다시 한번 확인 부탁드립니다."),
    ("Any update on this?", "진행 상황이 궁금합니다."),
    ("I attached a photo.", "사진 첨부했습니다."),
]  # fmt: skip


# --- helpers ---------------------------------------------------------------------------------


def _rng(name: str) -> random.Random:
    # A str seed is hashed with SHA-512 by random.seed: stable across runs and PYTHONHASHSEED.
    return random.Random(f"{SEED}/{name}")


def _sql_ts(dt: datetime) -> str:
    return dt.isoformat(" ")  # datetimes here never carry microseconds


def _iso_z(dt: datetime) -> str:
    return dt.isoformat() + "Z"


def _months() -> list[date]:
    out = []
    for i in range(MONTH_COUNT):
        y, m = divmod(FIRST_MONTH.month - 1 + i, 12)
        out.append(date(FIRST_MONTH.year + y, m + 1, 1))
    return out


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def _apportion(total: int, weights: list[float]) -> list[int]:
    """Split `total` into integers proportional to `weights` that sum to `total` exactly."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    counts = [int(x) for x in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _later(rng: random.Random, ts: datetime, lo_seconds: int, hi_seconds: int) -> datetime:
    return min(ts + timedelta(seconds=rng.randint(lo_seconds, hi_seconds)), END_TS)


def is_korean(text: str) -> bool:
    """True if `text` contains a Hangul syllable."""
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


# --- generators ------------------------------------------------------------------------------


def sellers() -> list[Row]:
    """The three demo sellers; the tenant id of seller N is N."""
    return [dict(s) for s in SELLERS]


def customers() -> list[Row]:
    """2000 CRM customers: ~60% Korean names, ~40% English, unique example.* emails."""
    rng = _rng("customers")
    fam_weights = [f[2] for f in KOREAN_FAMILY_NAMES]
    signup_days = (SIGNUP_LAST - SIGNUP_FIRST).days
    used_emails: set[str] = set()
    rows: list[Row] = []
    for cid in range(1, CUSTOMER_COUNT + 1):
        korean = rng.random() < 0.6
        if korean:
            fam_ko, fam_rom, _ = rng.choices(KOREAN_FAMILY_NAMES, fam_weights)[0]
            given_ko, given_rom = rng.choice(KOREAN_GIVEN_NAMES)
            name, local = fam_ko + given_ko, f"{given_rom}.{fam_rom}"
        else:
            first, last = rng.choice(ENGLISH_FIRST_NAMES), rng.choice(ENGLISH_LAST_NAMES)
            name, local = f"{first} {last}", f"{first}.{last}".lower()
        while True:
            email = f"{local}{rng.randint(1, 99)}@{rng.choice(EMAIL_DOMAINS)}"
            if email not in used_emails:
                used_emails.add(email)
                break
        phone = f"010-{rng.randint(2000, 9999)}-{rng.randint(0, 9999):04d}"
        signup = SIGNUP_FIRST + timedelta(days=rng.randrange(signup_days + 1))
        signup_date = signup.isoformat()
        if signup_date >= NEW_CUSTOMER_SINCE:
            segment = "new"
        else:
            segment = rng.choices(("vip", "regular", "dormant"), (8, 72, 20))[0]
        status = rng.choices(("active", "inactive", "blocked"), (85, 10, 5))[0]
        signup_ts = datetime(signup.year, signup.month, signup.day)
        span = int((END_TS - signup_ts).total_seconds())
        updated = signup_ts + timedelta(seconds=rng.randint(0, span))
        rows.append(
            {
                "id": cid,
                "name": name,
                "email": email,
                "phone": phone,
                "address": _address(rng, korean_style=rng.random() < (0.85 if korean else 0.3)),
                "segment": segment,
                "status": status,
                "signup_date": signup_date,
                "updated_at": _sql_ts(updated),
            }
        )
    return rows


def _address(rng: random.Random, korean_style: bool) -> str:
    city = rng.choices(CITIES, [c[2] for c in CITIES])[0]
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


def products() -> list[Row]:
    """150 products, 50 per seller, ids 1..50 for seller 1, 51..100 for seller 2, and so on."""
    rng = _rng("products")
    rows: list[Row] = []
    created_lo = datetime(2024, 6, 1)
    created_span = int((START_TS - created_lo).total_seconds()) - 1  # all exist before any order
    for seller in SELLERS:
        categories = [c for c, n in SELLER_CATEGORY_MIX[seller["id"]].items() for _ in range(n)]
        used_names: set[str] = set()
        for category in categories:
            lo, hi, items = CATALOGUE[category]
            while True:
                name = f"{rng.choice(PRODUCT_VARIANTS)} {rng.choice(items)}"
                if name not in used_names:
                    used_names.add(name)
                    break
            # Prices like 29,000 or 28,900: whole thousands, sometimes just under.
            price = rng.randint(lo // 1000, hi // 1000) * 1000 - (100 if rng.random() < 0.5 else 0)
            created = created_lo + timedelta(seconds=rng.randint(0, created_span))
            updated = created + timedelta(
                seconds=rng.randint(0, int((END_TS - created).total_seconds()))
            )
            rows.append(
                {
                    "id": len(rows) + 1,
                    "seller_id": seller["id"],
                    "name": name,
                    "category": category,
                    "price": price,
                    "stock": 0 if rng.random() < 0.08 else rng.randint(1, 500),
                    "active": 0 if rng.random() < 0.08 else 1,
                    "created_at": _sql_ts(created),
                    "updated_at": _sql_ts(updated),
                }
            )
    return rows


def orders(customer_rows: list[Row], product_rows: list[Row]) -> list[Row]:
    """20000 orders over 2025-05 .. 2026-10, growing month by month, ids in time order.

    Each order's customer had signed up by the order's day; amount = price * quantity and the
    seller is the product's. Pending orders are mostly from the last two months.
    """
    rng = _rng("orders")
    months = _months()
    weights = [MONTHLY_GROWTH**i * SEASON.get(m.month, 1.0) for i, m in enumerate(months)]
    times: list[datetime] = []
    for month, count in zip(months, _apportion(ORDER_COUNT, weights), strict=True):
        start, end = (datetime(d.year, d.month, 1) for d in (month, _next_month(month)))
        span = int((end - start).total_seconds())
        times.extend(start + timedelta(seconds=rng.randrange(span)) for _ in range(count))
    times.sort()
    stamps = [_sql_ts(t) for t in times]

    # Customers by signup date, with cumulative weights, so "anyone signed up by day D" is a
    # prefix and a weighted pick from it is one bisect.
    by_signup = sorted(customer_rows, key=lambda c: (c["signup_date"], c["id"]))
    signups = [c["signup_date"] for c in by_signup]
    segment_weight = {"vip": 5.0, "regular": 1.5, "new": 1.5, "dormant": 0.3}
    status_weight = {"active": 1.0, "inactive": 0.4, "blocked": 0.1}
    cum_weights = list(
        accumulate(segment_weight[c["segment"]] * status_weight[c["status"]] for c in by_signup)
    )

    popularity = [rng.lognormvariate(0, 0.8) for _ in product_rows]
    picked_products = rng.choices(product_rows, popularity, k=len(times))
    quantities = rng.choices((1, 2, 3, 4, 5), (60, 22, 10, 5, 3), k=len(times))

    n_recent = sum(s >= PENDING_RECENT_SINCE for s in stamps)
    p_pending_old = 0.01
    p_pending_recent = min(
        0.9, (0.06 * len(stamps) - p_pending_old * (len(stamps) - n_recent)) / max(n_recent, 1)
    )
    settled = ("approved", "rejected", "refunded", "partially_refunded")
    settled_weights = (80, 4, 6, 4)

    rows: list[Row] = []
    for i, (ts, stamp) in enumerate(zip(times, stamps, strict=True)):
        k = bisect_right(signups, stamp[:10])
        pick = bisect_right(cum_weights, rng.random() * cum_weights[k - 1], 0, k)
        customer = by_signup[min(pick, k - 1)]
        product = picked_products[i]
        p_pending = p_pending_recent if stamp >= PENDING_RECENT_SINCE else p_pending_old
        if rng.random() < p_pending:
            status, updated = "pending", ts
        else:
            status = rng.choices(settled, settled_weights)[0]
            if status == "approved":
                updated = _later(rng, ts, 60, 2 * 3600)
            elif status == "rejected":
                updated = _later(rng, ts, 600, 2 * 86400)
            else:
                updated = _later(rng, ts, 86400, 20 * 86400)
        rows.append(
            {
                "id": i + 1,
                "customer_id": customer["id"],
                "seller_id": product["seller_id"],
                "product_id": product["id"],
                "quantity": quantities[i],
                "amount": product["price"] * quantities[i],
                "status": status,
                "ordered_at": stamp,
                "updated_at": _sql_ts(updated),
            }
        )
    return rows


def payments(order_rows: list[Row]) -> list[Row]:
    """One payment per order; status and balance follow the order status (see PAYMENT_STATUS)."""
    rng = _rng("payments")
    methods = ("card", "easy_pay", "transfer", "virtual_account")
    method_weights = (55, 25, 12, 8)
    used_keys: set[str] = set()
    rows: list[Row] = []
    for order in order_rows:
        while True:
            key = f"tpk_{rng.getrandbits(80):020x}"
            if key not in used_keys:
                used_keys.add(key)
                break
        amount = order["amount"]
        status = PAYMENT_STATUS[order["status"]]
        if status == "DONE":
            balance = amount
        elif status == "PARTIAL_CANCELED":
            refund = round(amount * rng.uniform(0.1, 0.7) / 100) * 100
            balance = amount - min(max(refund, 100), amount - 100)
        else:
            balance = 0
        ordered = datetime.fromisoformat(order["ordered_at"])
        rows.append(
            {
                "payment_key": key,
                "order_id": order["id"],
                "amount": amount,
                "balance_amount": balance,
                "method": rng.choices(methods, method_weights)[0],
                "status": status,
                "approved_at": _sql_ts(_later(rng, ordered, 5, 90)),
            }
        )
    return rows


def marketing_spend() -> list[Row]:
    """18 months x 5 channels of spend (KRW), clicks and signups."""
    rng = _rng("marketing_spend")
    rows: list[Row] = []
    for i, month in enumerate(_months()):
        for channel, (base, cpc, rate) in MARKETING_CHANNELS.items():
            spend = base * 1.03**i * SEASON.get(month.month, 1.0) * rng.uniform(0.85, 1.15)
            clicks = int(spend / cpc * rng.uniform(0.9, 1.1))
            rows.append(
                {
                    "month": month.isoformat(),
                    "channel": channel,
                    "spend_krw": round(spend / 1000) * 1000,
                    "clicks": clicks,
                    "signups": int(clicks * rate * rng.uniform(0.8, 1.2)),
                }
            )
    return rows


def store_sales() -> list[Row]:
    """18 months x 3 offline stores of revenue (KRW) and order counts; month is 'YYYY-MM-01'."""
    rng = _rng("store_sales")
    rows: list[Row] = []
    for i, month in enumerate(_months()):
        for store, (base, order_value) in STORES.items():
            revenue = base * 1.02**i * SEASON.get(month.month, 1.0) * rng.uniform(0.9, 1.1)
            rows.append(
                {
                    "month": month.isoformat(),
                    "store": store,
                    "revenue_krw": round(revenue / 1000) * 1000,
                    "orders": int(revenue / (order_value * rng.uniform(0.93, 1.07))),
                }
            )
    return rows


def tickets(customer_rows: list[Row]) -> list[Row]:
    """3000 support tickets (MongoDB-shaped documents), ids T000001.. in creation order.

    Korean-named customers write in Korean. Older tickets are nearly all closed.
    """
    rng = _rng("tickets")
    drafts = []
    for _ in range(TICKET_COUNT):
        customer = rng.choice(customer_rows)
        signup = datetime.fromisoformat(customer["signup_date"])
        lo = max(signup, START_TS)
        # Skewed towards recent dates, as the customer base grows.
        created = lo + timedelta(seconds=int((END_TS - lo).total_seconds() * rng.random() ** 0.7))
        drafts.append((created, customer))
    drafts.sort(key=lambda d: (d[0], d[1]["id"]))

    rows: list[Row] = []
    for n, (created, customer) in enumerate(drafts, start=1):
        ko = is_korean(customer["name"])
        topic, tags, subjects = rng.choices(TICKET_TOPICS, TICKET_TOPIC_WEIGHTS)[0]
        subject_en, subject_ko = rng.choice(subjects)
        age_days = (END_TS - created).days
        if age_days < 7:
            status = rng.choices(("open", "pending", "closed"), (50, 30, 20))[0]
        elif age_days < 30:
            status = rng.choices(("open", "pending", "closed"), (20, 30, 50))[0]
        else:
            status = rng.choices(("open", "pending", "closed"), (2, 3, 95))[0]
        high_share = 30 if topic in ("payment", "damaged") else 10
        priority = rng.choices(("low", "normal", "high"), (25, 65 - high_share, high_share))[0]
        team = TOPIC_TEAM[topic]

        subject = subject_ko if ko else subject_en
        messages = [{"from": "customer", "at": _iso_z(created), "body": subject}]
        # Open tickets wait for an agent (last word: customer); pending ones wait for the
        # customer and closed ones are done (last word: agent).
        agent_replies = rng.choice((0, 0, 1)) if status == "open" else rng.randint(1, 3)
        at = created
        for r in range(agent_replies):
            at = _later(rng, at, 300, 8 * 3600)
            body = rng.choice(AGENT_REPLIES)[ko]
            messages.append({"from": "agent", "at": _iso_z(at), "body": body})
            if status == "open" or r < agent_replies - 1:
                at = _later(rng, at, 300, 24 * 3600)
                body = rng.choice(CUSTOMER_FOLLOW_UPS)[ko]
                messages.append({"from": "customer", "at": _iso_z(at), "body": body})
        rows.append(
            {
                "_id": f"T{n:06d}",
                "customer_id": customer["id"],
                "subject": subject,
                "status": status,
                "priority": priority,
                "channel": rng.choices(("email", "chat", "phone"), (45, 40, 15))[0],
                "created_at": _iso_z(created),
                "assignee": {"name": rng.choice(SUPPORT_AGENTS[team]), "team": team},
                "tags": list(tags),
                "messages": messages,
            }
        )
    return rows


def generate() -> dict[str, list[Row]]:
    """All demo data, keyed by table (or file) name."""
    customer_rows = customers()
    product_rows = products()
    order_rows = orders(customer_rows, product_rows)
    return {
        "customers": customer_rows,
        "sellers": sellers(),
        "products": product_rows,
        "orders": order_rows,
        "payments": payments(order_rows),
        "marketing_spend": marketing_spend(),
        "store_sales": store_sales(),
        "tickets": tickets(customer_rows),
    }
