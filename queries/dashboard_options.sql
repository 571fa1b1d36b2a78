-- sources: shop, crm
-- What the dashboard's filters offer: sellers (id, name), customer segments, payment methods
-- (those of the orders' payments, from the daily rollup: every payment has its order).
SELECT 'seller' AS kind, CAST(id AS VARCHAR) AS value, name AS label FROM shop.sellers
UNION ALL
SELECT DISTINCT 'segment', segment, segment FROM crm.customers_snapshot WHERE segment IS NOT NULL
UNION ALL
SELECT DISTINCT 'method', method, method FROM shop.dashboard_daily WHERE method IS NOT NULL
ORDER BY kind, label, value
