-- sources: shop
-- runs_on: shop
-- One seller's orders placed in one month, for its statement, in the shop's own database
-- (one range of idx_orders_seller_ordered_at, each payment and product by its key): what was
-- sold, what was refunded, what the seller keeps. No customer data. Live tables: a statement
-- is what a seller is paid on, so it shows a refund made a minute ago.
--   refunded: amount less the payment's balance, for refunded and partially refunded orders
--   kept:     the payment's balance, for approved and partially refunded orders (pending
--             orders are not settled yet, rejected ones were never sold)
-- :month_start and :month_end are datetimes (the month's first instant and the next's).
SELECT
    o.id AS order_id,
    o.ordered_at,
    coalesce(pr.name, replace('Product #?', '?', CAST(o.product_id AS CHAR(20)))) AS product,
    o.quantity,
    o.amount,
    o.status,
    CASE WHEN o.status IN ('refunded', 'partially_refunded')
        THEN coalesce(p.amount - p.balance_amount, 0) ELSE 0 END AS refunded,
    CASE WHEN o.status IN ('approved', 'partially_refunded')
        THEN coalesce(p.balance_amount, 0) ELSE 0 END AS kept
FROM orders AS o
LEFT JOIN payments AS p ON p.order_id = o.id
LEFT JOIN products AS pr ON pr.id = o.product_id
WHERE o.seller_id = :seller_id
  AND o.ordered_at >= :month_start
  AND o.ordered_at < :month_end
ORDER BY o.ordered_at, o.id
