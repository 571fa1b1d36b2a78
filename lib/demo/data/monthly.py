"""Monthly demo figures: marketing spend by channel, offline store sales."""

from __future__ import annotations

from lib.demo.data.base import SEASON, Row, month_starts, seeded_rng

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


def marketing_spend() -> list[Row]:
    """18 months x 5 channels of spend (KRW), clicks and signups."""
    rng = seeded_rng("marketing_spend")
    rows: list[Row] = []
    for i, month in enumerate(month_starts()):
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
    rng = seeded_rng("store_sales")
    rows: list[Row] = []
    for i, month in enumerate(month_starts()):
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
