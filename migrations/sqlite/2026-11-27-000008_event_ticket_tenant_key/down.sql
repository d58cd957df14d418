CREATE TABLE ticket_events_old (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    actor_id    INTEGER REFERENCES users(id),
    kind        TEXT    NOT NULL,
    details     TEXT    NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    once_key    TEXT
);
INSERT INTO ticket_events_old SELECT id, tenant_id, ticket_id, actor_id, kind, details, created_at, once_key FROM ticket_events;
DROP TABLE ticket_events;
ALTER TABLE ticket_events_old RENAME TO ticket_events;
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);
CREATE INDEX ticket_events_tenant ON ticket_events (tenant_id, id);
CREATE UNIQUE INDEX ticket_events_once ON ticket_events (ticket_id, once_key) WHERE once_key IS NOT NULL;
CREATE INDEX tickets_tenant_id ON tickets (tenant_id, id);
DROP INDEX tickets_tenant_id_key;
