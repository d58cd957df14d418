ALTER TABLE tickets DROP COLUMN waiting_on;
DROP INDEX tickets_sla_warn;
ALTER TABLE tickets ADD COLUMN sla_state TEXT CHECK (sla_state IN ('ok', 'warning', 'breached'));
UPDATE tickets SET sla_state = 'ok' WHERE sla_clock IS NOT NULL;
CREATE INDEX tickets_sla_state ON tickets (tenant_id, sla_state, queue_id);
ALTER TABLE tickets DROP COLUMN sla_clock;
ALTER TABLE tickets DROP COLUMN sla_warn_at;
