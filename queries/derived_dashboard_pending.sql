-- sources: shop, crm
-- Orders waiting for an operator (pending) by seller, customer segment and payment method:
-- how many, and since when the oldest waits (a derived table: dashboard_backlog.sql).
SELECT
    o.seller_id,
    c.segment,
    p.method,
    count(*) AS pending,
    min(CAST(o.ordered_at AS TIMESTAMP)) AS oldest_at
FROM shop.orders_snapshot AS o
LEFT JOIN shop.payments_snapshot AS p ON p.order_id = o.id
LEFT JOIN crm.customers_snapshot AS c ON c.id = o.customer_id
WHERE o.status = 'pending'
GROUP BY ALL
