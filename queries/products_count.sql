-- sources: shop
-- How many of ONE seller's products match the Seller portal's filters (the pager's total).
-- Keep the WHERE clause the same as products_list.sql's.
SELECT count(*) AS total
FROM shop.products AS p
WHERE p.seller_id = $seller_id
  AND ($q IS NULL OR contains(lower(p.name), lower($q)))
  AND ($category IS NULL OR p.category = $category)
  AND ($active IS NULL OR (p.active <> 0) = $active)
