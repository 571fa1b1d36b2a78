-- sources: support
-- A customer's support tickets (MongoDB, flattened), newest first, with how many in all.
-- Message bodies are left out: the page lists tickets, it does not read conversations.
SELECT
    t._id AS ticket,
    CAST(t.created_at AS TIMESTAMP) AS created_at,
    t.subject,
    t.status,
    t.priority,
    t.channel,
    t.assignee_name AS assignee,
    count(*) OVER () AS total
FROM support.tickets AS t
WHERE t.customer_id = $customer_id
ORDER BY CAST(t.created_at AS TIMESTAMP) DESC, t._id DESC
LIMIT $limit
