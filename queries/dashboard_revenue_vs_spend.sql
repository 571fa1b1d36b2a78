-- sources: crm, shop, sheets
-- Revenue kept (amount less refunds) per month and customer segment, beside marketing spend.
WITH revenue AS (
    SELECT
        date_trunc('month', CAST(o.ordered_at AS TIMESTAMP))::DATE AS month,
        c.segment,
        count(*) AS orders,
        sum(p.balance_amount) AS revenue_krw
    FROM shop.orders AS o
    JOIN shop.payments AS p ON p.order_id = o.id
    JOIN crm.customers AS c ON c.id = o.customer_id
    WHERE o.status IN ('approved', 'partially_refunded')
      AND CAST(o.ordered_at AS TIMESTAMP) >= CAST($date_from AS TIMESTAMP)
      AND CAST(o.ordered_at AS TIMESTAMP) < CAST($date_to AS TIMESTAMP)
    GROUP BY ALL
),
spend AS (
    SELECT month, sum(spend_krw) AS spend_krw, sum(signups) AS signups
    FROM sheets.marketing_spend
    GROUP BY month
)
SELECT r.month, r.segment, r.orders, r.revenue_krw, s.spend_krw, s.signups
FROM revenue AS r
LEFT JOIN spend AS s USING (month)
ORDER BY r.month, r.segment
