-- sources: shop, crm
-- Refunds given back on the orders placed in the period (in scope), by the category of their
-- reason. Only refunds done; a reject's own cancel is no refund (from
-- shop.dashboard_refunds_daily: queries/derived_dashboard_refunds.sql).
SELECT
    category,
    CAST(sum(refunds) AS BIGINT) AS refunds,
    sum(refunded_krw) AS refunded_krw
FROM shop.dashboard_refunds_daily
WHERE day >= CAST($date_from AS DATE)
  AND day < CAST($date_end AS DATE)
  AND ($seller_id IS NULL OR seller_id = $seller_id)
  AND ($segment IS NULL OR segment = $segment)
  AND ($method IS NULL OR method = $method)
GROUP BY ALL
ORDER BY refunded_krw DESC, category
