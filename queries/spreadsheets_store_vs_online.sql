-- sources: sheets, shop
-- Offline store sales (the store_sales XLSX) against online sales (shop orders approved or
-- partly refunded, by order month), from the dashboard's snapshots (an analysis: the live
-- tables would be read whole at every change). A FULL OUTER JOIN by month: a month on one
-- side only is kept and flagged in `match` (left: the sheet; right: the shop), never dropped.
-- One row per month and store; the page spreads the stores into columns. $date_from / $date_to:
-- YYYY-MM-DD or NULL, the months from date_from up to (not including) date_to.
WITH stores AS (
    SELECT
        CAST(date_trunc('month', month) AS DATE) AS month,
        store,
        sum(revenue_krw) AS store_revenue_krw
    FROM sheets.store_sales
    WHERE month IS NOT NULL
      AND ($date_from IS NULL OR month >= CAST($date_from AS DATE))
      AND ($date_to IS NULL OR month < CAST($date_to AS DATE))
    GROUP BY ALL
),
online AS (
    SELECT
        CAST(date_trunc('month', TRY_CAST(o.ordered_at AS TIMESTAMP)) AS DATE) AS month,
        sum(p.balance_amount) AS online_revenue_krw,
        count(*) AS online_orders
    FROM shop.orders_snapshot AS o
    JOIN shop.payments_snapshot AS p ON p.order_id = o.id
    WHERE o.status IN ('approved', 'partially_refunded')
      AND TRY_CAST(o.ordered_at AS TIMESTAMP) IS NOT NULL
    GROUP BY ALL
)
SELECT
    coalesce(s.month, o.month) AS month,
    s.store,
    s.store_revenue_krw,
    o.online_revenue_krw,
    o.online_orders,
    CASE
        WHEN s.month IS NULL THEN 'right only'
        WHEN o.month IS NULL THEN 'left only'
        ELSE 'both'
    END AS match
FROM stores AS s
FULL OUTER JOIN (
    SELECT * FROM online
    WHERE ($date_from IS NULL OR month >= CAST($date_from AS DATE))
      AND ($date_to IS NULL OR month < CAST($date_to AS DATE))
) AS o ON o.month = s.month
ORDER BY month, s.store
