-- sources: shop, crm
-- Refunds done (a reject's own cancel is no refund) on refunded and partially refunded
-- orders, by the day the order was placed, its seller, its customer's segment, its payment
-- method and the category of the refund's reason (a derived table: dashboard_refunds.sql
-- sums it for a view).
SELECT
    CAST(CAST(o.ordered_at AS TIMESTAMP) AS DATE) AS day,
    o.seller_id,
    c.segment,
    p.method,
    CASE
        WHEN regexp_matches(lower(r.reason), 'damag|defect|broken|faulty')
            THEN 'Damaged or defective'
        WHEN regexp_matches(lower(r.reason), 'wrong item|size|wrong product')
            THEN 'Wrong item or size'
        WHEN regexp_matches(lower(r.reason), '\blate\b|delay') THEN 'Late delivery'
        WHEN regexp_matches(lower(r.reason), 'mind|cheaper|duplicate') THEN 'Changed mind'
        ELSE 'Other'
    END AS category,
    count(*) AS refunds,
    sum(r.amount) AS refunded_krw
FROM shop.refunds_snapshot AS r
JOIN shop.orders_snapshot AS o ON o.id = r.order_id
LEFT JOIN shop.payments_snapshot AS p ON p.order_id = o.id
LEFT JOIN crm.customers_snapshot AS c ON c.id = o.customer_id
WHERE r.status = 'done'
  AND coalesce(CAST(r.rejects_order AS INTEGER), 0) = 0
  AND o.status IN ('refunded', 'partially_refunded')
  AND o.ordered_at IS NOT NULL
GROUP BY ALL
