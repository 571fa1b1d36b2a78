-- sources: shop
-- One seller's orders placed in one month, for its statement: what was sold, what was
-- refunded, what the seller keeps. No customer data. Live tables: a statement is what a
-- seller is paid on, so it shows a refund made a minute ago (snapshots lag up to their TTL).
--   refunded: amount less the payment's balance, for refunded and partially refunded orders
--   kept:     the payment's balance, for approved and partially refunded orders (pending
--             orders are not settled yet, rejected ones were never sold)
SELECT
    o.id AS order_id,
    CAST(o.ordered_at AS TIMESTAMP) AS ordered_at,
    coalesce(pr.name, 'Product #' || CAST(o.product_id AS VARCHAR)) AS product,
    o.quantity,
    o.amount,
    o.status,
    CASE WHEN o.status IN ('refunded', 'partially_refunded')
        THEN coalesce(p.amount - p.balance_amount, 0) ELSE 0 END AS refunded,
    CASE WHEN o.status IN ('approved', 'partially_refunded')
        THEN coalesce(p.balance_amount, 0) ELSE 0 END AS kept
FROM shop.orders AS o
LEFT JOIN shop.payments AS p ON p.order_id = o.id
LEFT JOIN shop.products AS pr ON pr.id = o.product_id
WHERE o.seller_id = $seller_id
  AND CAST(o.ordered_at AS TIMESTAMP) >= CAST($month_start AS TIMESTAMP)
  AND CAST(o.ordered_at AS TIMESTAMP) < CAST($month_end AS TIMESTAMP)
ORDER BY o.ordered_at, o.id
