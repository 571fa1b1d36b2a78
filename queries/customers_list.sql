-- sources: crm
-- One page of customers for the Customers page; personal data is masked by the page.
-- Keep the WHERE clause the same as customers_count.sql's: the pager counts what this lists.
-- The search terms come from lib.customers_view.Search: $q_id matches the id exactly,
-- $q_text the name or e-mail (case-insensitive substring), $q_digits the phone's digits.
-- sortable: id, name, segment, status, signup_date
-- default_sort: signup_date desc
SELECT
    c.id,
    c.name,
    c.email,
    c.phone,
    c.address,
    c.segment,
    c.status,
    CAST(c.signup_date AS DATE) AS signup_date
FROM crm.customers AS c
WHERE ($segment_all OR c.segment IN (SELECT unnest(CAST($segments AS VARCHAR[]))))
  AND ($status_all OR c.status IN (SELECT unnest(CAST($statuses AS VARCHAR[]))))
  AND ($date_from IS NULL OR CAST(c.signup_date AS DATE) >= CAST($date_from AS DATE))
  AND ($date_to IS NULL OR CAST(c.signup_date AS DATE) <= CAST($date_to AS DATE))
  AND (
    ($q_id IS NULL AND $q_text IS NULL AND $q_digits IS NULL)
    OR c.id = CAST($q_id AS BIGINT)
    OR contains(lower(c.name), lower(CAST($q_text AS VARCHAR)))
    OR contains(lower(c.email), lower(CAST($q_text AS VARCHAR)))
    OR contains(regexp_replace(c.phone, '[^0-9]', '', 'g'), CAST($q_digits AS VARCHAR))
  )
ORDER BY __order_by__
LIMIT $limit OFFSET $offset
