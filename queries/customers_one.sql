-- sources: crm
-- runs_on: crm
-- One customer, read live in the crm's own database (its primary key), for the Customers
-- page's detail (masked by the page).
SELECT
    c.id,
    c.name,
    c.email,
    c.phone,
    c.address,
    c.segment,
    c.status,
    c.signup_date,
    c.updated_at
FROM customers AS c
WHERE c.id = :customer_id
