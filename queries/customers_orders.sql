-- sources: shop
-- runs_on: shop
-- A customer's most recent orders (newest first), with how many they have in all, run in
-- the shop's own database: one range of idx_orders_customer_id (customer_id, ordered_at),
-- never a scan of the orders (DuckDB's mysql scanner pushes no filter down).
SELECT
    o.id,
    o.ordered_at,
    o.status,
    p.name AS product,
    o.quantity,
    o.amount,
    count(*) OVER () AS total
FROM orders AS o
LEFT JOIN products AS p ON p.id = o.product_id
WHERE o.customer_id = :customer_id
ORDER BY o.ordered_at DESC, o.id DESC
LIMIT :limit
