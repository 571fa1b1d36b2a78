"""The demo customer API: profile data the CRM lacks, for every CRM customer, page by page.

`GET /customers?page=1&per_page=100&tier=<opt>` -> {"items", "page", "per_page", "total"}
(with `tier`, only customers in that loyalty tier, and `total` counts those);
`GET /customers/{id}` -> one item or 404. Bearer auth on both; `GET /health` is open and names
the service and its version.
Reads crm.sqlite on every request, so customers added to the CRM appear at once.
"""

from __future__ import annotations

from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query

from lib.demo.services import open_readonly, stable_fraction
from lib.demo.services.auth import bearer_token_checker
from lib.demo.services.faults import install_faults

SERVICE, VERSION = "customer_api", "1.4.2"
MAX_PER_PAGE = 1000
# The demo data ends here; logins are placed between signup and this moment.
DEMO_NOW = datetime(2026, 10, 31, 23, 59, 59)
# tier -> (share of customers, points range)
TIERS = {
    "bronze": (0.50, (0, 2_000)),
    "silver": (0.30, (2_000, 10_000)),
    "gold": (0.15, (10_000, 50_000)),
    "platinum": (0.05, (50_000, 200_000)),
}
Tier = Literal["bronze", "silver", "gold", "platinum"]


def profile(customer_id: int, signup_date: str) -> dict:
    """The API's view of one customer: fixed by its id (and signup date), in any process."""
    tier, (low, high) = _tier(stable_fraction("tier", customer_id))
    points = low + int(stable_fraction("points", customer_id) * (high - low))
    signup = datetime.fromisoformat(signup_date)
    span = max((DEMO_NOW - signup).total_seconds(), 0)
    last_login = signup + timedelta(seconds=int(stable_fraction("login", customer_id) * span))
    return {
        "id": customer_id,
        "loyalty_tier": tier,
        "points": points,
        "marketing_opt_in": stable_fraction("opt_in", customer_id) < 0.6,
        "last_login_at": last_login.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _tier(pick: float) -> tuple[str, tuple[int, int]]:
    cumulative = 0.0
    for tier, (share, points) in TIERS.items():
        cumulative += share
        if pick < cumulative:
            return tier, points
    return tier, points  # pick rounds past the last share: the last tier


def create_app(demo_dir: Path, token: str) -> FastAPI:
    """The customer API over `demo_dir`/crm.sqlite, accepting `Authorization: Bearer <token>`."""
    crm = Path(demo_dir) / "crm.sqlite"
    open_readonly(crm).close()  # fail at start, not on the first request, if it is missing

    app = FastAPI(title="Demo customer API")
    install_faults(app)
    api = APIRouter(dependencies=[Depends(bearer_token_checker(token))])

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "service": SERVICE, "version": VERSION}

    @api.get("/customers")
    def list_customers(
        page: Annotated[int, Query(ge=1)] = 1,
        per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 100,
        tier: Tier | None = None,
    ) -> dict:
        offset = (page - 1) * per_page
        with closing(open_readonly(crm)) as con:
            if tier is None:
                total = con.execute("SELECT COUNT(*) FROM customers").fetchone()[0]
                rows = con.execute(
                    "SELECT id, signup_date FROM customers ORDER BY id LIMIT ? OFFSET ?",
                    (per_page, offset),
                ).fetchall()
                items = [profile(r["id"], r["signup_date"]) for r in rows]
            else:
                # The tier is the API's own (not in the CRM): profile everyone, keep the tier's.
                every = con.execute("SELECT id, signup_date FROM customers ORDER BY id").fetchall()
                found = [
                    p
                    for r in every
                    if (p := profile(r["id"], r["signup_date"]))["loyalty_tier"] == tier
                ]
                total, items = len(found), found[offset : offset + per_page]
        return {"items": items, "page": page, "per_page": per_page, "total": total}

    @api.get("/customers/{customer_id}")
    def get_customer(customer_id: int) -> dict:
        with closing(open_readonly(crm)) as con:
            row = con.execute(
                "SELECT id, signup_date FROM customers WHERE id = ?", (customer_id,)
            ).fetchone()
        if row is None:
            raise HTTPException(status_code=404, detail=f"Customer {customer_id} not found")
        return profile(row["id"], row["signup_date"])

    app.include_router(api)
    return app
