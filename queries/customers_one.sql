-- sources: crm
-- One customer, read live, for the Customers page's detail (masked by the page).
SELECT
    c.id,
    c.name,
    c.email,
    c.phone,
    c.address,
    c.segment,
    c.status,
    CAST(c.signup_date AS DATE) AS signup_date,
    CAST(c.updated_at AS TIMESTAMP) AS updated_at
FROM crm.customers AS c
WHERE c.id = $customer_id
