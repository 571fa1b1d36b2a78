-- sources: shop
-- A customer's most recent orders (newest first), with how many they have in all.
SELECT
    o.id,
    CAST(o.ordered_at AS TIMESTAMP) AS ordered_at,
    o.status,
    p.name AS product,
    o.quantity,
    o.amount,
    count(*) OVER () AS total
FROM shop.orders AS o
LEFT JOIN shop.products AS p ON p.id = o.product_id
WHERE o.customer_id = $customer_id
ORDER BY CAST(o.ordered_at AS TIMESTAMP) DESC, o.id DESC
LIMIT $limit
