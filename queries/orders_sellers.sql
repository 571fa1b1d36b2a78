-- sources: shop
-- runs_on: shop
-- The sellers the Orders page's seller filter offers, read in the shop's own database (a
-- small table: the page never waits for a DuckDB copy of the shop).
SELECT id, name FROM sellers ORDER BY name, id
