-- sources: shop
-- Sellers for the Seller portal: a seller's own entry (bind its tenant as $seller_id), or
-- every seller for staff who see all tenants ($seller_id NULL), for the tenant picker.
SELECT id, name
FROM shop.sellers
WHERE ($seller_id IS NULL OR id = $seller_id)
ORDER BY id
