-- sources: shop
-- One page of ONE seller's products for the Seller portal, and how many match in all
-- (total_rows, for the pager: one query, so the count and the list share one WHERE).
-- $seller_id is always bound: the page decides it from the signed-in user (a seller: its
-- own tenant, whatever the URL says).
-- `version` is updated_at as stored: product.update's expected_updated_at compares it as is.
-- sortable: id, name, category, price, stock, updated_at
-- default_sort: id desc
SELECT
    p.id,
    p.name,
    p.category,
    p.price,
    p.stock,
    p.active <> 0 AS active,
    CAST(p.updated_at AS TIMESTAMP) AS updated_at,
    p.updated_at AS version,
    p.seller_id,
    count(*) OVER () AS total_rows
FROM shop.products AS p
WHERE p.seller_id = $seller_id
  AND ($q IS NULL OR contains(lower(p.name), lower($q)))
  AND ($category IS NULL OR p.category = $category)
  AND ($active IS NULL OR (p.active <> 0) = $active)
ORDER BY __order_by__
LIMIT $limit OFFSET $offset
