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
    ($q_id IS NULL AND $q_email IS NULL AND $q_phone IS NULL AND $q_name IS NULL)
    OR c.id = CAST($q_id AS BIGINT)
    OR lower(trim(c.email)) = CAST($q_email AS VARCHAR)
    OR starts_with(lower(c.name), CAST($q_name AS VARCHAR))
    OR CASE
        WHEN starts_with(ltrim(c.phone), '+82')
        THEN '0' || ltrim(substr(regexp_replace(c.phone, '[^0-9]', '', 'g'), 3), '0')
        ELSE regexp_replace(c.phone, '[^0-9]', '', 'g')
    END = CAST($q_phone AS VARCHAR)
  )
