-- sources: shop, crm
-- Orders waiting for an operator now (pending), in scope whatever the dates: how many, and
-- since when the oldest waits (from shop.dashboard_pending: queries/derived_dashboard_pending.sql).
SELECT
    CAST(coalesce(sum(pending), 0) AS BIGINT) AS pending,
    min(oldest_at) AS oldest_at
FROM shop.dashboard_pending
WHERE ($seller_id IS NULL OR seller_id = $seller_id)
  AND ($segment IS NULL OR segment = $segment)
  AND ($method IS NULL OR method = $method)
