-- sources: customer_api, order_api
-- Workflow customer_orders, its combine query (run on the steps' rows: `customers` from the
-- customer API, `orders` from the order API): one row per customer found, with the count and
-- total of its orders (every status), its last order and its orders by shipping status;
-- biggest spenders first.
-- A customer whose orders could not be read shows no orders: the run lists it as failed.
SELECT
    c.id AS customer_id,
    c.loyalty_tier AS tier,
    c.points,
    count(o.customer_id) AS orders,
    CAST(coalesce(sum(o.amount), 0) AS BIGINT) AS total_amount,
    max(CAST(o.ordered_at AS TIMESTAMP)) AS last_ordered_at,
    count(o.customer_id) FILTER (WHERE o.shipping_status = 'preparing') AS preparing,
    count(o.customer_id) FILTER (WHERE o.shipping_status = 'shipped') AS shipped,
    count(o.customer_id) FILTER (WHERE o.shipping_status = 'delivered') AS delivered,
    count(o.customer_id) FILTER (WHERE o.shipping_status = 'returned') AS returned
FROM customers AS c
LEFT JOIN orders AS o ON o.customer_id = c.id
GROUP BY c.id, c.loyalty_tier, c.points
ORDER BY total_amount DESC, customer_id
