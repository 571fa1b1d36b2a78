-- sources: shop, crm
-- Refunds given back on the orders placed in the period (in scope), by the category of their
-- reason. Only refunds done; a reject's own cancel is no refund.
WITH refunds AS (
    SELECT r.amount, lower(r.reason) AS reason
    FROM shop.refunds_snapshot AS r
    JOIN shop.orders_snapshot AS o ON o.id = r.order_id
    LEFT JOIN shop.payments_snapshot AS p ON p.order_id = o.id
    LEFT JOIN crm.customers_snapshot AS c ON c.id = o.customer_id
    WHERE r.status = 'done'
      AND coalesce(CAST(r.rejects_order AS INTEGER), 0) = 0
      AND o.status IN ('refunded', 'partially_refunded')
      AND CAST(o.ordered_at AS TIMESTAMP) >= CAST($date_from AS TIMESTAMP)
      AND CAST(o.ordered_at AS TIMESTAMP) < CAST($date_end AS TIMESTAMP)
      AND ($seller_id IS NULL OR o.seller_id = $seller_id)
      AND ($segment IS NULL OR c.segment = $segment)
      AND ($method IS NULL OR p.method = $method)
)
SELECT
    CASE
        WHEN regexp_matches(reason, 'damag|defect|broken|faulty') THEN 'Damaged or defective'
        WHEN regexp_matches(reason, 'wrong item|size|wrong product') THEN 'Wrong item or size'
        WHEN regexp_matches(reason, '\blate\b|delay') THEN 'Late delivery'
        WHEN regexp_matches(reason, 'mind|cheaper|duplicate') THEN 'Changed mind'
        ELSE 'Other'
    END AS category,
    count(*) AS refunds,
    sum(amount) AS refunded_krw
FROM refunds
GROUP BY ALL
ORDER BY refunded_krw DESC, category
