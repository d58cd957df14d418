-- A history event names its ticket together with the ticket's tenant: one composite foreign key
-- (tenant_id, ticket_id) → tickets (tenant_id, id) instead of one to tickets and one to tenants.
-- It also makes an event in one tenant about another tenant's ticket impossible, and costs one
-- check per inserted event instead of two (the SLA sweep writes 1,000 events in one statement).
CREATE UNIQUE INDEX tickets_tenant_id_key ON tickets (tenant_id, id);
DROP INDEX tickets_tenant_id;
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_ticket_id_fkey;
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_tenant_id_fkey;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_ticket_fkey
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id);
