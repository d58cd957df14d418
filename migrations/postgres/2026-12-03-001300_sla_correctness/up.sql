-- D44: a message Ärendo sends by itself (an acknowledgement) is marked automatic; it is never a
-- response for the service levels and shows as automatic on the ticket.
ALTER TABLE messages ADD COLUMN auto_sent BOOLEAN NOT NULL DEFAULT FALSE;
-- Every acknowledgement sent so far: its history event names the message.
UPDATE messages SET auto_sent = TRUE
WHERE kind = 'outbound' AND author_id IS NULL AND id IN (
    SELECT (details::jsonb ->> 'message')::bigint FROM ticket_events
    WHERE kind = 'acknowledged' AND details LIKE '{%'
);
-- The first response is the first reply a person sent (or none yet).
UPDATE tickets SET first_response_at = (
    SELECT MIN(m.created_at) FROM messages m
    WHERE m.tenant_id = tickets.tenant_id AND m.ticket_id = tickets.id
      AND m.kind = 'outbound' AND NOT m.auto_sent
)
WHERE id IN (SELECT ticket_id FROM messages WHERE auto_sent);
-- The SLA follower replays every ticket with a history event after its position: one event per
-- corrected ticket recomputes its clocks, its standing and the met counts of /queues.
INSERT INTO ticket_events (tenant_id, ticket_id, actor_id, kind, details, created_at)
SELECT DISTINCT tenant_id, ticket_id, NULL::bigint, 'sla_corrected', '{"reason":"acknowledgement"}', CURRENT_TIMESTAMP
FROM messages WHERE auto_sent;
-- D45: resolved, closed and merged tickets keep no running clock; replay them once more.
INSERT INTO ticket_events (tenant_id, ticket_id, actor_id, kind, details, created_at)
SELECT tenant_id, id, NULL::bigint, 'sla_corrected', '{"reason":"stopped"}', CURRENT_TIMESTAMP
FROM tickets WHERE (status IN ('resolved', 'closed') OR merged_into_id IS NOT NULL)
  AND sla_clock IS NOT NULL;
-- D45: a referral pauses the service level unless its target says otherwise.
ALTER TABLE escalation_targets ADD COLUMN referral_pauses_sla BOOLEAN NOT NULL DEFAULT TRUE;
