-- sources: crm
-- runs_on: crm
-- Customers' names by id (the Orders page masks them), run in the crm's own database.
SELECT id, name
FROM customers
WHERE id IN :ids
