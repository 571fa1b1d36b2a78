-- sources: sheets, crm, shop
-- Marketing spend by channel (the marketing_spend CSV) against new customers (crm, by signup
-- month) and revenue kept (shop orders approved or partly refunded, by order month), from the
-- dashboard's snapshots (an analysis: the live tables would be read whole at every change).
-- A FULL OUTER JOIN by month: a month on one side only is kept and flagged in `match`
-- (left: the sheet; right: the databases), never dropped. One row per month and channel;
-- the page spreads the channels into columns. $date_from / $date_to: YYYY-MM-DD or NULL,
-- the months from date_from up to (not including) date_to.
WITH spend AS (
    SELECT
        CAST(date_trunc('month', month) AS DATE) AS month,
        channel,
        sum(spend_krw) AS spend_krw
    FROM sheets.marketing_spend
    WHERE month IS NOT NULL
      AND ($date_from IS NULL OR month >= CAST($date_from AS DATE))
      AND ($date_to IS NULL OR month < CAST($date_to AS DATE))
    GROUP BY ALL
),
signups AS (
    SELECT
        CAST(date_trunc('month', TRY_CAST(signup_date AS DATE)) AS DATE) AS month,
        count(*) AS new_customers
    FROM crm.customers_snapshot
    WHERE TRY_CAST(signup_date AS DATE) IS NOT NULL
    GROUP BY ALL
),
revenue AS (
    SELECT
        CAST(date_trunc('month', TRY_CAST(o.ordered_at AS TIMESTAMP)) AS DATE) AS month,
        sum(p.balance_amount) AS revenue_krw
    FROM shop.orders_snapshot AS o
    JOIN shop.payments_snapshot AS p ON p.order_id = o.id
    WHERE o.status IN ('approved', 'partially_refunded')
      AND TRY_CAST(o.ordered_at AS TIMESTAMP) IS NOT NULL
    GROUP BY ALL
),
databases AS (
    SELECT coalesce(s.month, r.month) AS month, s.new_customers, r.revenue_krw
    FROM signups AS s
    FULL OUTER JOIN revenue AS r ON r.month = s.month
    WHERE ($date_from IS NULL OR coalesce(s.month, r.month) >= CAST($date_from AS DATE))
      AND ($date_to IS NULL OR coalesce(s.month, r.month) < CAST($date_to AS DATE))
)
SELECT
    coalesce(m.month, d.month) AS month,
    m.channel,
    m.spend_krw,
    d.new_customers,
    d.revenue_krw,
    CASE
        WHEN m.month IS NULL THEN 'right only'
        WHEN d.month IS NULL THEN 'left only'
        ELSE 'both'
    END AS match
FROM spend AS m
FULL OUTER JOIN databases AS d ON d.month = m.month
ORDER BY month, m.channel
