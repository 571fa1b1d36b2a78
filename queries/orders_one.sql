-- sources: shop
-- runs_on: shop
-- One order with its payment as the shop records them now (the refund dialog's balance),
-- read by its primary key in the shop's own database; the customer's name comes from the
-- crm by id (customers_names.sql).
SELECT
    o.id,
    o.status,
    o.amount,
    p.balance_amount AS balance,
    p.method,
    p.status AS payment_status,
    p.payment_key,
    o.customer_id
FROM orders AS o
LEFT JOIN payments AS p ON p.order_id = o.id
WHERE o.id = :order_id
