-- sources: crm
-- Workflow orders_by_segment, step `customers`: each customer's segment (only $segment's
-- customers when given; NULL: every segment). No personal data: the id and segment only.
SELECT c.id, c.segment
FROM crm.customers AS c
WHERE CAST($segment AS VARCHAR) IS NULL OR c.segment = CAST($segment AS VARCHAR)
