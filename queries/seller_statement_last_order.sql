-- sources: shop
-- runs_on: shop
-- When one seller's latest order before :before was placed (its latest of all without
-- :before), in the shop's own database: the statement's month picker walks back from it
-- month by month (lib.reports.statement.seller_months), each step one probe of
-- idx_orders_seller_ordered_at, so listing the months reads a few dozen index entries
-- instead of every order the seller ever had (what DISTINCT month over its orders did).
SELECT max(o.ordered_at) AS last_ordered_at
FROM orders AS o
WHERE o.seller_id = :seller_id
  AND o.ordered_at < :before           -- when: before
