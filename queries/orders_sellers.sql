-- sources: shop
-- The sellers the Orders page's seller filter offers.
SELECT id, name FROM shop.sellers ORDER BY name, id
