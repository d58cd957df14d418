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
