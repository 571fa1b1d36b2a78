-- sources: shop, crm
-- The dashboard's figures for one period (orders placed from $date_from, before $date_end),
-- by period ($granularity), month, customer segment and payment method; the KPIs are their
-- sums, the charts their groupings. In scope: $seller_id, $segment, $method (NULL: all).
-- gmv: amount of orders not rejected; revenue_krw: what approved and partially refunded
-- payments kept; refunded_krw: what refunded and partially refunded payments gave back;
-- new_customers: orders that are their customer's first in scope (any status).
WITH scoped AS (
    SELECT
        o.id,
        o.customer_id,
        o.status,
        o.amount,
        CAST(o.ordered_at AS TIMESTAMP) AS ordered_ts,
        p.balance_amount,
        coalesce(p.method, 'unknown') AS method,
        coalesce(c.segment, 'unknown') AS segment
    FROM shop.orders_snapshot AS o
    LEFT JOIN shop.payments_snapshot AS p ON p.order_id = o.id
    LEFT JOIN crm.customers_snapshot AS c ON c.id = o.customer_id
    WHERE ($seller_id IS NULL OR o.seller_id = $seller_id)
      AND ($segment IS NULL OR c.segment = $segment)
      AND ($method IS NULL OR p.method = $method)
),
firsts AS (  -- each customer's first order in scope (an aggregate: cheaper than a window)
    SELECT arg_min(id, (ordered_ts, id)) AS id FROM scoped GROUP BY customer_id
),
flagged AS (
    SELECT s.*, f.id IS NOT NULL AS first_order
    FROM scoped AS s
    LEFT JOIN firsts AS f ON f.id = s.id
    WHERE s.ordered_ts < CAST($date_end AS TIMESTAMP)
)
SELECT
    CAST(
        CASE $granularity  -- constant parts: date_trunc with a bound part is slower
            WHEN 'day' THEN date_trunc('day', ordered_ts)
            WHEN 'week' THEN date_trunc('week', ordered_ts)
            ELSE date_trunc('month', ordered_ts)
        END AS DATE
    ) AS period,
    CAST(date_trunc('month', ordered_ts) AS DATE) AS month,
    segment,
    method,
    count(*) AS orders,
    count(*) FILTER (WHERE status <> 'rejected') AS orders_not_rejected,
    coalesce(sum(amount) FILTER (WHERE status <> 'rejected'), 0) AS gmv,
    coalesce(
        sum(balance_amount) FILTER (WHERE status IN ('approved', 'partially_refunded')), 0
    ) AS revenue_krw,
    coalesce(
        sum(amount - balance_amount) FILTER (WHERE status IN ('refunded', 'partially_refunded')),
        0
    ) AS refunded_krw,
    count(*) FILTER (WHERE first_order) AS new_customers
FROM flagged
WHERE ordered_ts >= CAST($date_from AS TIMESTAMP)
GROUP BY ALL
ORDER BY period, month, segment, method
