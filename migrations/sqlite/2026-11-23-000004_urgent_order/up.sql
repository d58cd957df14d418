-- "Most urgent first" is priority_rank descending, oldest first within a rank (id ascending).
-- An index in that exact mixed order lets the database read a queue's open tickets in list
-- order and stop after one page; with both columns ascending it had to sort every open ticket
-- of the queue first (8 ms instead of under 1 ms with a million tickets on SQLite).
DROP INDEX tickets_queue_work;
DROP INDEX tickets_assignee_work;
CREATE INDEX tickets_queue_work ON tickets (tenant_id, queue_id, status, priority_rank DESC, id);
CREATE INDEX tickets_assignee_work ON tickets (tenant_id, assignee_id, status, priority_rank DESC, id, queue_id);
-- Fresh planner statistics for the new indexes (SQLite drops them with the old ones).
ANALYZE tickets;
