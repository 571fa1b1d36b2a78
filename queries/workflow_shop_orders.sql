-- sources: shop
-- Workflow orders_by_segment, step `orders`: the orders that stand (every status but rejected
-- and refunded) placed from $date_from to $date_to inclusive (NULL: no bound).
SELECT
    o.id,
    o.customer_id,
    o.amount,
    CAST(o.ordered_at AS TIMESTAMP) AS ordered_at
FROM shop.orders AS o
WHERE o.status NOT IN ('rejected', 'refunded')
  AND (
    CAST($date_from AS DATE) IS NULL
    OR CAST(o.ordered_at AS TIMESTAMP) >= CAST($date_from AS DATE)
  )
  AND (
    CAST($date_to AS DATE) IS NULL
    OR CAST(o.ordered_at AS TIMESTAMP) < CAST($date_to AS DATE) + INTERVAL 1 DAY
  )
