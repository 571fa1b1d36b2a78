-- sources: crm
-- runs_on: crm
-- One page of customers for the Customers page, run in the crm's own database
-- (lib.reading.source_query); personal data is masked by the page.
-- The search follows lib.access.pii_search (Search.key_params), each kind one lookup of an
-- index on the keys lib.records.schema has the database compute: the id exactly, a whole
-- e-mail by email_key, a whole phone number by phone_key (every stored form of the number:
-- pii_search.phone_keys), a name by its beginning as a range of name_key (lower(name)) that
-- every database reads from its btree, the LIKE keeping the range exact. A number may be an
-- id or a phone: both. Every sort is an index's order (name: idx_customers_name_key).
-- sortable: signup_date=c.signup_date, id=c.id, name=c.name_key, segment=c.segment, status=c.status
-- default_sort: signup_date desc
-- key: c.id
SELECT
    c.id,
    c.name,
    c.email,
    c.phone,
    c.address,
    c.segment,
    c.status,
    c.signup_date
FROM customers AS c
WHERE __keyset__
  AND c.segment IN :segments                              -- when: segments
  AND c.status IN :statuses                               -- when: statuses
  AND c.signup_date >= :date_from                         -- when: date_from
  AND c.signup_date <= :date_to                           -- when: date_to
  AND c.id = :q_id                                        -- when: q_id_only
  AND (c.id = :q_id OR c.phone_key IN :q_phones)          -- when: q_phones
  AND c.email_key = :q_email                              -- when: q_email
  AND c.name_key >= :q_name_lo                            -- when: q_name_like
  AND c.name_key < :q_name_hi                             -- when: q_name_like
  AND c.name_key LIKE :q_name_like ESCAPE '!'             -- when: q_name_like
