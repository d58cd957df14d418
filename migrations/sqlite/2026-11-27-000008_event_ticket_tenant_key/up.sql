-- A history event names its ticket together with the ticket's tenant: one composite foreign key
-- (tenant_id, ticket_id) → tickets (tenant_id, id) instead of one to tickets and one to tenants
-- (see the PostgreSQL migration). SQLite cannot change a table's foreign keys: the table is
-- rebuilt with the same rows, ids and indexes.
CREATE UNIQUE INDEX tickets_tenant_id_key ON tickets (tenant_id, id);
DROP INDEX tickets_tenant_id;
CREATE TABLE ticket_events_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL,
    ticket_id   INTEGER NOT NULL,
    actor_id    INTEGER REFERENCES users(id),
    kind        TEXT    NOT NULL,
    details     TEXT    NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    once_key    TEXT,
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
);
INSERT INTO ticket_events_new (id, tenant_id, ticket_id, actor_id, kind, details, created_at, once_key)
    SELECT id, tenant_id, ticket_id, actor_id, kind, details, created_at, once_key FROM ticket_events;
DROP TABLE ticket_events;
ALTER TABLE ticket_events_new RENAME TO ticket_events;
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);
CREATE INDEX ticket_events_tenant ON ticket_events (tenant_id, id);
CREATE UNIQUE INDEX ticket_events_once ON ticket_events (ticket_id, once_key) WHERE once_key IS NOT NULL;
