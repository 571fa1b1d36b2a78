-- sources: sheets
-- Marketing spend (the sheet's months, all channels) for the days from $date_from to before
-- $date_end: a month the period covers in part counts for the share of its days covered.
WITH months AS (
    SELECT CAST(date_trunc('month', month) AS DATE) AS month, sum(spend_krw) AS spend
    FROM sheets.marketing_spend
    WHERE month IS NOT NULL
    GROUP BY ALL
),
spans AS (
    SELECT
        month,
        spend,
        datediff('day', month, CAST(month + INTERVAL 1 MONTH AS DATE)) AS month_days,
        datediff(
            'day',
            greatest(month, CAST($date_from AS DATE)),
            least(CAST(month + INTERVAL 1 MONTH AS DATE), CAST($date_end AS DATE))
        ) AS days
    FROM months
)
SELECT month, spend * days / month_days AS spend_krw, days, month_days
FROM spans
WHERE days > 0
ORDER BY month
