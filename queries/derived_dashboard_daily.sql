-- sources: shop, crm
-- The dashboard's daily rollup (a derived table, rebuilt in the background after the
-- snapshots change; queries/dashboard_figures.sql sums it): one row per day, seller, customer
-- segment and payment method (NULL: the order has no customer row / no payment), with the
-- figures of the orders placed that day. new_* count the orders that are their customer's
-- first (by ordered_at, then id; any status) among the customer's orders overall
-- (new_all), of the same seller (new_seller), with the same method (new_method), or both
-- (new_seller_method): the first order in a view's scope depends only on its seller and
-- method filters (a segment takes or leaves all of a customer's orders).
WITH scoped AS (
    SELECT
        o.id,
        o.customer_id,
        o.seller_id,
        o.status,
        o.amount,
        CAST(o.ordered_at AS TIMESTAMP) AS ordered_ts,
        p.balance_amount,
        p.method,
        c.segment
    FROM shop.orders_snapshot AS o
    LEFT JOIN shop.payments_snapshot AS p ON p.order_id = o.id
    LEFT JOIN crm.customers_snapshot AS c ON c.id = o.customer_id
),
first_all AS (SELECT arg_min(id, (ordered_ts, id)) AS id FROM scoped GROUP BY customer_id),
first_seller AS (
    SELECT arg_min(id, (ordered_ts, id)) AS id FROM scoped GROUP BY customer_id, seller_id
),
first_method AS (
    SELECT arg_min(id, (ordered_ts, id)) AS id FROM scoped GROUP BY customer_id, method
),
first_both AS (
    SELECT arg_min(id, (ordered_ts, id)) AS id
    FROM scoped
    GROUP BY customer_id, seller_id, method
)
SELECT
    CAST(s.ordered_ts AS DATE) AS day,
    s.seller_id,
    s.segment,
    s.method,
    count(*) AS orders,
    count(*) FILTER (WHERE s.status <> 'rejected') AS orders_not_rejected,
    coalesce(sum(s.amount) FILTER (WHERE s.status <> 'rejected'), 0) AS gmv,
    coalesce(
        sum(s.balance_amount) FILTER (WHERE s.status IN ('approved', 'partially_refunded')), 0
    ) AS revenue_krw,
    coalesce(
        sum(s.amount - s.balance_amount)
            FILTER (WHERE s.status IN ('refunded', 'partially_refunded')),
        0
    ) AS refunded_krw,
    count(fa.id) AS new_all,
    count(fs.id) AS new_seller,
    count(fm.id) AS new_method,
    count(fb.id) AS new_seller_method
FROM scoped AS s
LEFT JOIN first_all AS fa ON fa.id = s.id
LEFT JOIN first_seller AS fs ON fs.id = s.id
LEFT JOIN first_method AS fm ON fm.id = s.id
LEFT JOIN first_both AS fb ON fb.id = s.id
WHERE s.ordered_ts IS NOT NULL
GROUP BY ALL
ORDER BY day, seller_id, segment, method
