-- sources: support, customer_api
-- Workflow tickets_with_profiles, its combine query (run on the steps' rows: `tickets` from
-- MongoDB, `profiles` from the customer API, one per customer): each open ticket with its
-- customer's tier, points, last login and marketing opt-in (empty when the profile could not
-- be read: the run lists that customer as failed), oldest ticket first.
SELECT
    t.ticket,
    t.created_at,
    t.priority,
    t.channel,
    t.status,
    t.subject,
    t.assignee,
    t.customer_id,
    p.loyalty_tier AS tier,
    p.points,
    CAST(p.last_login_at AS TIMESTAMP) AS last_login_at,
    p.marketing_opt_in
FROM tickets AS t
LEFT JOIN profiles AS p ON p.id = t.customer_id
ORDER BY t.created_at, t.ticket
