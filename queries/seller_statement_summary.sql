-- sources: shop
-- runs_on: shop
-- One seller's month for its statement's figures, in the shop's own database: the orders of
-- seller_statement_orders.sql (the same range of idx_orders_seller_ordered_at, the same
-- refunded and kept) summed by status and kept amount, so the page reads a few hundred rows
-- instead of every order line (which only the downloaded files hold). The fee is rounded per
-- line, so per kept amount: lib.reports.statement adds fee_of(kept) x orders.
-- :month_start and :month_end are datetimes (the month's first instant and the next's).
SELECT
    o.status,
    CASE WHEN o.status IN ('approved', 'partially_refunded')
        THEN coalesce(p.balance_amount, 0) ELSE 0 END AS kept,
    count(*) AS orders,
    sum(o.amount) AS amount,
    sum(CASE WHEN o.status IN ('refunded', 'partially_refunded')
        THEN coalesce(p.amount - p.balance_amount, 0) ELSE 0 END) AS refunded
FROM orders AS o
LEFT JOIN payments AS p ON p.order_id = o.id
WHERE o.seller_id = :seller_id
  AND o.ordered_at >= :month_start
  AND o.ordered_at < :month_end
GROUP BY o.status,
    CASE WHEN o.status IN ('approved', 'partially_refunded')
        THEN coalesce(p.balance_amount, 0) ELSE 0 END
