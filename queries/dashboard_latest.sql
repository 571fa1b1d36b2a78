-- sources: shop
-- The day of the latest order: the dashboard's default range ends with it.
SELECT CAST(max(CAST(ordered_at AS TIMESTAMP)) AS DATE) AS latest FROM shop.orders_snapshot
