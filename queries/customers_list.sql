-- sources: crm
-- One page of customers for the Customers page and, on each row, how many match in all
-- (the pager's total, Engine.page); personal data is masked by the page.
-- The search terms come from lib.access.pii_search.Search, whose rules keep search from
-- revealing more than the mask shows: $q_id the id and $q_email the e-mail exactly, $q_name
-- the beginning of the name, $q_phone the phone's digits exactly (+82 numbers in domestic
-- form, as lib.access.pii_search.normalise_phone does).
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
    CAST(c.signup_date AS DATE) AS signup_date,
    count(*) OVER () AS total_rows
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
ORDER BY __order_by__
LIMIT $limit OFFSET $offset
