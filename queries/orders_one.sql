-- sources: shop, crm
-- One order with its payment as the shop records them now (the refund dialog's balance).
SELECT
    o.id,
    o.status,
    o.amount,
    p.balance_amount AS balance,
    p.method,
    p.status AS payment_status,
    p.payment_key,
    c.name AS customer
FROM shop.orders AS o
LEFT JOIN shop.payments AS p ON p.order_id = o.id
LEFT JOIN crm.customers AS c ON c.id = o.customer_id
WHERE o.id = $order_id
