-- sources: shop, crm
-- A copy of queries/orders_list.sql as landed before issue 13 (DuckDB over the scanners),
-- kept for bench.scale's "before" figure once the Orders page reads its source directly.
-- One page of orders with their payment, seller and customer, for the Orders page.
-- total_rows: the whole list's count beside each row, for the pager (Engine.page).
-- sortable: ordered_at, id, amount, balance, status, method, seller
-- default_sort: ordered_at desc
SELECT
    o.id,
    CAST(o.ordered_at AS TIMESTAMP) AS ordered_at,
    o.status,
    o.amount,
    p.balance_amount AS balance,
    p.method,
    s.name AS seller,
    c.name AS customer,
    p.payment_key,
    o.seller_id,
    o.customer_id,
    count(*) OVER () AS total_rows
FROM shop.orders AS o
LEFT JOIN shop.payments AS p ON p.order_id = o.id
LEFT JOIN shop.sellers AS s ON s.id = o.seller_id
LEFT JOIN crm.customers AS c ON c.id = o.customer_id
WHERE ($status_all OR o.status IN (SELECT unnest(CAST($statuses AS VARCHAR[]))))
  AND ($date_from IS NULL OR CAST(o.ordered_at AS TIMESTAMP) >= CAST($date_from AS DATE))
  AND ($date_to IS NULL OR CAST(o.ordered_at AS TIMESTAMP) < CAST($date_to AS DATE) + INTERVAL 1 DAY)
  AND ($min_amount IS NULL OR o.amount >= $min_amount)
  AND ($max_amount IS NULL OR o.amount <= $max_amount)
  AND ($seller_id IS NULL OR o.seller_id = $seller_id)
  AND (
    $q IS NULL
    OR o.id = TRY_CAST($q AS BIGINT)
    OR starts_with(p.payment_key, $q)
    OR starts_with(lower(c.name), CAST($q_name AS VARCHAR))
    OR lower(trim(c.email)) = CAST($q_email AS VARCHAR)
  )
ORDER BY __order_by__
LIMIT $limit OFFSET $offset
