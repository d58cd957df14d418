DROP INDEX tickets_queue_work;
DROP INDEX tickets_assignee_work;
CREATE INDEX tickets_queue_work ON tickets (tenant_id, queue_id, status, priority_rank, id);
CREATE INDEX tickets_assignee_work ON tickets (tenant_id, assignee_id, status, priority_rank, id);
