-- A ticket's SLA standing is derived from time instead of stored: the list shows "warning" once
-- the earliest warning instant has passed and "late" once the earliest due instant has. The
-- sweeper then never writes the tickets table (ten indexes) when a warning or breach fires; only
-- a change to the ticket (which writes it anyway) moves these instants.
ALTER TABLE tickets ADD COLUMN sla_warn_at TIMESTAMP;
-- 'running', 'paused' (waiting), or NULL when no service level applies or every target is met.
ALTER TABLE tickets ADD COLUMN sla_clock TEXT CHECK (sla_clock IN ('running', 'paused'));
UPDATE tickets
   SET sla_clock = CASE WHEN sla_due_at IS NULL THEN 'paused' ELSE 'running' END,
       sla_warn_at = (SELECT MIN(s.warn_at) FROM ticket_sla s
                       WHERE s.ticket_id = tickets.id AND s.met_at IS NULL)
 WHERE sla_state IS NOT NULL;
DROP INDEX tickets_sla_state;
ALTER TABLE tickets DROP COLUMN sla_state;
CREATE INDEX tickets_sla_warn ON tickets (tenant_id, queue_id, sla_warn_at, id);

-- "Waiting" has two kinds: waiting for the citizen and waiting for an external party (another
-- authority, a contractor). Both pause the clocks; the status stays 'waiting' for filters and
-- counts. NULL unless the status is 'waiting' (and for waiting tickets from before: citizen).
ALTER TABLE tickets ADD COLUMN waiting_on TEXT CHECK (waiting_on IN ('citizen', 'external'));
UPDATE tickets SET waiting_on = 'citizen' WHERE status = 'waiting';

-- A warning or breach fires once per ticket, target, round and level: its history event carries
-- that as a key, unique per ticket, so the event is also the record that it fired (one row per
-- firing instead of two; a second sweeper's insert does nothing). Replaces sla_firings.
ALTER TABLE ticket_events ADD COLUMN once_key TEXT;
UPDATE ticket_events
   SET once_key = 'sla:' || (details::json->>'target') || ':' || (details::json->>'cycle') || ':' ||
                  CASE kind WHEN 'sla_warning' THEN 'warning' ELSE 'breach' END
 WHERE kind IN ('sla_warning', 'sla_breached');
-- Only the first of repeated events keeps the key (sla_firings allowed none, but be safe).
UPDATE ticket_events SET once_key = NULL
 WHERE once_key IS NOT NULL
   AND EXISTS (SELECT 1 FROM ticket_events f
                WHERE f.ticket_id = ticket_events.ticket_id
                  AND f.once_key = ticket_events.once_key
                  AND f.id < ticket_events.id);
CREATE UNIQUE INDEX ticket_events_once ON ticket_events (ticket_id, once_key) WHERE once_key IS NOT NULL;
DROP TABLE sla_firings;
