-- sources: shop
-- runs_on: shop
-- One page of orders with their payment and seller, for the Orders page, run in the shop's
-- own database (lib.reading.source_query): the customer's name comes from the crm by id
-- (customers_names.sql), customers searched by name or e-mail as ids (customers_matching.sql).
-- Every sort is an index's order: status sorts within a status by time (idx_orders_status).
-- An amount range uses idx_orders_amount to count, for a list of at most 10,000 and when
-- sorted by amount; a longer list sorted otherwise reads its sort's index and checks the
-- amount (`+ 0`: not by its index), or SQLite would read the whole range to sort it. The
-- same for the customers a name search found: their orders by idx_orders_customer_id to
-- count and for up to 10,000 of them, else the newest first checked against the ids.
-- The count and a numbered page's keys join the payment only to search its key (one per
-- order: the rows are the same) and never the seller: MariaDB then reads idx_orders_ordered_at
-- for page 500 instead of sorting the table (0.79 s -> ms at 1.5M).
-- sortable: ordered_at=o.ordered_at, id=o.id, amount=o.amount, status=(o.status, o.ordered_at)
-- default_sort: ordered_at desc
-- key: o.id
SELECT
    o.id,
    o.ordered_at,
    o.status,
    o.amount,
    p.balance_amount AS balance,
    p.method,
    s.name AS seller,
    p.payment_key,
    o.seller_id,
    o.customer_id
FROM orders AS o
LEFT JOIN payments AS p ON p.order_id = o.id   -- when: !__keys, !__count
LEFT JOIN payments AS p ON p.order_id = o.id   -- when: __keys|__count, key_like
LEFT JOIN sellers AS s ON s.id = o.seller_id   -- when: !__keys, !__count
WHERE __keyset__
  AND o.status IN :statuses                 -- when: statuses
  AND o.ordered_at >= :ordered_from         -- when: ordered_from
  AND o.ordered_at < :ordered_before        -- when: ordered_before
  AND o.amount >= :min_amount               -- when: min_amount, __count|__small|__sort_amount
  AND o.amount <= :max_amount               -- when: max_amount, __count|__small|__sort_amount
  AND o.amount + 0 >= :min_amount           -- when: min_amount, !__count, !__small, !__sort_amount
  AND o.amount + 0 <= :max_amount           -- when: max_amount, !__count, !__small, !__sort_amount
  AND o.seller_id = :seller_id              -- when: seller_id
  AND o.id = :q_id                          -- when: q_id
  AND p.payment_key >= :key_lo              -- when: key_like
  AND p.payment_key < :key_hi               -- when: key_like
  AND p.payment_key LIKE :key_like ESCAPE '!'    -- when: key_like
  AND o.customer_id IN :customer_ids        -- when: customer_ids, __count|__small
  AND o.customer_id + 0 IN :customer_ids    -- when: customer_ids, !__count, !__small
  AND 1 = 0                                 -- when: match_nothing
