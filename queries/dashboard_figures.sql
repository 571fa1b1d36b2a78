-- sources: shop, crm
-- The dashboard's figures for one period (orders placed from $date_from, before $date_end),
-- by period ($granularity), month, customer segment and payment method; the KPIs are their
-- sums, the charts their groupings. In scope: $seller_id, $segment, $method (NULL: all).
-- gmv: amount of orders not rejected; revenue_krw: what approved and partially refunded
-- payments kept; refunded_krw: what refunded and partially refunded payments gave back;
-- new_customers: orders that are their customer's first in scope (any status).
-- Read from shop.dashboard_daily (queries/derived_dashboard_daily.sql: the orders, payments
-- and customers snapshots by day), whose new_* column for the view's seller/method filters
-- counts the first orders in that scope.
SELECT
    CAST(
        CASE $granularity  -- constant parts: date_trunc with a bound part is slower
            WHEN 'day' THEN day
            WHEN 'week' THEN date_trunc('week', day)
            ELSE date_trunc('month', day)
        END AS DATE
    ) AS period,
    CAST(date_trunc('month', day) AS DATE) AS month,
    coalesce(segment, 'unknown') AS segment,
    coalesce(method, 'unknown') AS method,
    CAST(sum(orders) AS BIGINT) AS orders,
    CAST(sum(orders_not_rejected) AS BIGINT) AS orders_not_rejected,
    sum(gmv) AS gmv,
    sum(revenue_krw) AS revenue_krw,
    sum(refunded_krw) AS refunded_krw,
    CAST(sum(
        CASE
            WHEN $seller_id IS NULL AND $method IS NULL THEN new_all
            WHEN $method IS NULL THEN new_seller
            WHEN $seller_id IS NULL THEN new_method
            ELSE new_seller_method
        END
    ) AS BIGINT) AS new_customers
FROM shop.dashboard_daily
WHERE day >= CAST($date_from AS DATE)
  AND day < CAST($date_end AS DATE)
  AND ($seller_id IS NULL OR seller_id = $seller_id)
  AND ($segment IS NULL OR segment = $segment)
  AND ($method IS NULL OR method = $method)
GROUP BY ALL
ORDER BY period, month, segment, method
