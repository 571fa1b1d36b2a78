-- sources: shop, crm
-- Orders waiting for an operator now (pending), in scope whatever the dates: how many, and
-- since when the oldest waits.
SELECT
    count(*) AS pending,
    min(CAST(o.ordered_at AS TIMESTAMP)) AS oldest_at
FROM shop.orders_snapshot AS o
LEFT JOIN shop.payments_snapshot AS p ON p.order_id = o.id
LEFT JOIN crm.customers_snapshot AS c ON c.id = o.customer_id
WHERE o.status = 'pending'
  AND ($seller_id IS NULL OR o.seller_id = $seller_id)
  AND ($segment IS NULL OR c.segment = $segment)
  AND ($method IS NULL OR p.method = $method)
