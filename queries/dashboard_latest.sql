-- sources: shop
-- The day of the latest order: the dashboard's default range ends with it.
SELECT max(day) AS latest FROM shop.dashboard_daily
