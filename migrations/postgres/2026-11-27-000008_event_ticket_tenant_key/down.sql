ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_ticket_fkey;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id);
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES tickets (id);
CREATE INDEX tickets_tenant_id ON tickets (tenant_id, id);
DROP INDEX tickets_tenant_id_key;
