"""The demo order API: every shop order with the shipping data only this API knows.

`GET /orders?limit=500&cursor=<opaque>&customer_id=<opt>&status=<opt>`
-> {"items": [...], "next_cursor": "<opaque>" | null}. Bearer auth; `GET /health` is open and
names the service and its version.
Reads shop.sqlite on every request, so an order approved or refunded shows at once.
"""

from __future__ import annotations

import base64
import binascii
from contextlib import closing
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query

from lib.demo.services import iso_utc, open_readonly, stable_fraction
from lib.demo.services.auth import bearer_token_checker
from lib.demo.services.faults import install_faults

SERVICE, VERSION = "order_api", "2.1.0"
MAX_LIMIT = 1000
OrderStatus = Literal["pending", "approved", "rejected", "refunded", "partially_refunded"]
CARRIERS = ("CJ대한통운", "한진택배", "롯데택배", "우체국택배", "로젠택배")
CURSOR_PREFIX = "after:"


def shipping(order_id: int, status: str) -> dict:
    """Shipping for an order in a given status: fixed by the two, in any process."""
    if status in ("pending", "rejected"):
        # Nothing leaves the warehouse before approval (and a rejected order never does).
        return {"shipping_status": "preparing", "carrier": None, "tracking_no": None}
    if status == "refunded":
        shipping_status = "returned"
    else:
        pick = stable_fraction("shipping", order_id)
        shipping_status = "preparing" if pick < 0.08 else "shipped" if pick < 0.3 else "delivered"
        if shipping_status == "preparing":
            return {"shipping_status": "preparing", "carrier": None, "tracking_no": None}
    carrier = CARRIERS[int(stable_fraction("carrier", order_id) * len(CARRIERS))]
    tracking_no = f"{int(stable_fraction('tracking', order_id) * 10**12):012d}"
    return {"shipping_status": shipping_status, "carrier": carrier, "tracking_no": tracking_no}


def encode_cursor(last_id: int) -> str:
    """Opaque to clients; callers must pass back what they got, never build one."""
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith(CURSOR_PREFIX):
            raise ValueError(text)
        return int(text[len(CURSOR_PREFIX) :])
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(status_code=400, detail="Invalid cursor") from exc


def create_app(demo_dir: Path, token: str) -> FastAPI:
    """The order API over `demo_dir`/shop.sqlite, accepting `Authorization: Bearer <token>`."""
    shop = Path(demo_dir) / "shop.sqlite"
    open_readonly(shop).close()  # fail at start, not on the first request, if it is missing

    app = FastAPI(title="Demo order API")
    install_faults(app)
    api = APIRouter(dependencies=[Depends(bearer_token_checker(token))])

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "service": SERVICE, "version": VERSION}

    @api.get("/orders")
    def list_orders(
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 500,
        cursor: str | None = None,
        customer_id: int | None = None,
        status: OrderStatus | None = None,
    ) -> dict:
        after = decode_cursor(cursor) if cursor else 0
        where, params = ["id > ?"], [after]
        if customer_id is not None:
            where.append("customer_id = ?")
            params.append(customer_id)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        # One row past the page tells whether there is a next page without a trailing empty one.
        sql = (
            "SELECT id, customer_id, status, amount, ordered_at FROM orders "
            f"WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
        )
        with closing(open_readonly(shop)) as con:
            rows = con.execute(sql, (*params, limit + 1)).fetchall()
        page = rows[:limit]
        items = [
            {
                "id": r["id"],
                "customer_id": r["customer_id"],
                "status": r["status"],
                "amount": r["amount"],
                "ordered_at": iso_utc(r["ordered_at"]),
                **shipping(r["id"], r["status"]),
            }
            for r in page
        ]
        next_cursor = encode_cursor(page[-1]["id"]) if len(rows) > limit else None
        return {"items": items, "next_cursor": next_cursor}

    app.include_router(api)
    return app
