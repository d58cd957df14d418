DROP INDEX ticket_sla_next_check;
CREATE INDEX ticket_sla_next_check ON ticket_sla (next_check_at);
DROP INDEX ticket_sla_met;
CREATE INDEX ticket_sla_met ON ticket_sla (tenant_id, met_at);
