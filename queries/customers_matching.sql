-- sources: crm
-- runs_on: crm
-- The ids of the customers a search names (lib.access.pii_search's rules, its key_params):
-- a name by its beginning, as a range of the indexed name_key (lower(name)) that every
-- database reads from its btree, the LIKE keeping the range exact; or a whole e-mail by the
-- indexed email_key. At most 5,001 ids: more than 5,000 and the page asks for more of the name.
SELECT id
FROM customers
WHERE 1 = 1
  AND name_key >= :q_name_lo                      -- when: q_name_like
  AND name_key < :q_name_hi                       -- when: q_name_like
  AND name_key LIKE :q_name_like ESCAPE '!'       -- when: q_name_like
  AND email_key = :q_email                        -- when: q_email
LIMIT 5001
