-- sources: crm
-- How many customers match the Customers page's filters (the pager's total).
-- Keep the WHERE clause the same as customers_list.sql's.
SELECT count(*) AS total
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
