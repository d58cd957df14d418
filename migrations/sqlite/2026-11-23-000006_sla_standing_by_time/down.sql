CREATE TABLE sla_firings (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    target     TEXT NOT NULL,
    cycle      INTEGER NOT NULL,
    level      TEXT NOT NULL CHECK (level IN ('warning', 'breach')),
    fired_at   TIMESTAMP NOT NULL,
    UNIQUE (ticket_id, target, cycle, level)
);
INSERT INTO sla_firings (tenant_id, ticket_id, target, cycle, level, fired_at)
SELECT tenant_id, ticket_id, json_extract(details, '$.target'), json_extract(details, '$.cycle'),
       CASE kind WHEN 'sla_warning' THEN 'warning' ELSE 'breach' END, created_at
  FROM ticket_events WHERE once_key IS NOT NULL;
DROP INDEX ticket_events_once;
ALTER TABLE ticket_events DROP COLUMN once_key;
ALTER TABLE tickets DROP COLUMN waiting_on;
DROP INDEX tickets_sla_warn;
ALTER TABLE tickets ADD COLUMN sla_state TEXT CHECK (sla_state IN ('ok', 'warning', 'breached'));
UPDATE tickets SET sla_state = 'ok' WHERE sla_clock IS NOT NULL;
CREATE INDEX tickets_sla_state ON tickets (tenant_id, sla_state, queue_id);
ALTER TABLE tickets DROP COLUMN sla_clock;
ALTER TABLE tickets DROP COLUMN sla_warn_at;
