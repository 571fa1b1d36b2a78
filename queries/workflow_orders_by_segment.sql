-- sources: shop, crm
-- Workflow orders_by_segment, its combine query (run on the steps' rows: `orders` from the
-- shop database, `customers` from the CRM database): per segment and month, the customers who
-- ordered, their orders, the revenue and the average order.
SELECT
    c.segment,
    strftime(date_trunc('month', o.ordered_at), '%Y-%m') AS month,
    count(DISTINCT o.customer_id) AS customers,
    count(*) AS orders,
    CAST(sum(o.amount) AS BIGINT) AS revenue,
    CAST(round(avg(o.amount)) AS BIGINT) AS average_order
FROM orders AS o
JOIN customers AS c ON c.id = o.customer_id
GROUP BY c.segment, month
ORDER BY month, c.segment
