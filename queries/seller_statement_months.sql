-- sources: shop
-- The months in which one seller has orders, newest first: the statement's month picker.
-- Live tables, like the statement itself (lib/reports/statement.py says why).
SELECT DISTINCT CAST(date_trunc('month', CAST(ordered_at AS TIMESTAMP)) AS DATE) AS month
FROM shop.orders
WHERE seller_id = $seller_id
ORDER BY month DESC
