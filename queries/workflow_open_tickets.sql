-- sources: support
-- Workflow tickets_with_profiles, step `tickets`: support tickets not yet closed (open or
-- pending), of the priority and channel asked for (NULL: any). Message bodies are left out.
SELECT
    t._id AS ticket,
    t.customer_id,
    CAST(t.created_at AS TIMESTAMP) AS created_at,
    t.subject,
    t.status,
    t.priority,
    t.channel,
    t.assignee_name AS assignee
FROM support.tickets AS t
WHERE t.status IN ('open', 'pending')
  AND (CAST($priority AS VARCHAR) IS NULL OR t.priority = CAST($priority AS VARCHAR))
  AND (CAST($channel AS VARCHAR) IS NULL OR t.channel = CAST($channel AS VARCHAR))
ORDER BY created_at, ticket
