-- D56: a ticket opened by an automatic mail (auto-reply, bulk, list, unmatched bounce) is marked
-- with why; it runs no service-level clock and is left out of Mitt arbete by default.
ALTER TABLE tickets ADD COLUMN automatic TEXT NULL;
-- Tickets opened so far by automatic mail: their "not acknowledged" event names the kind.
UPDATE tickets SET automatic = (
    SELECT e.details::jsonb ->> 'kind' FROM ticket_events e
    WHERE e.tenant_id = tickets.tenant_id AND e.ticket_id = tickets.id
      AND e.kind = 'not_acknowledged' AND e.details LIKE '{%'
      AND e.details::jsonb ->> 'reason' = 'automatic'
    LIMIT 1
)
WHERE channel = 'email' AND NOT EXISTS (
    SELECT 1 FROM messages m WHERE m.tenant_id = tickets.tenant_id AND m.ticket_id = tickets.id
      AND m.kind = 'outbound' AND NOT m.auto_sent
);
-- Their clocks are replayed once more by the SLA follower (and then cleared).
INSERT INTO ticket_events (tenant_id, ticket_id, actor_id, kind, details, created_at)
SELECT tenant_id, id, NULL::bigint, 'sla_corrected', '{"reason":"automatic"}', CURRENT_TIMESTAMP
FROM tickets WHERE automatic IS NOT NULL;
