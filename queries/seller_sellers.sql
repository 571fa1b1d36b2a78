-- sources: shop
-- runs_on: shop
-- Sellers for the Seller portal: a seller's own entry (bind its tenant as :seller_id), or
-- every seller for staff who see all tenants (:seller_id None), for the tenant picker. Read
-- in the shop's own database: the page never waits for a DuckDB copy of the shop.
SELECT id, name
FROM sellers
WHERE 1 = 1
  AND id = :seller_id          -- when: seller_id
ORDER BY id
