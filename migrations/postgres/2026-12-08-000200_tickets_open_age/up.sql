-- The statistics' "oldest open ticket": one search per queue and status that stops at the
-- first row, instead of reading every open ticket of the queues to sort them by age.
CREATE INDEX tickets_open_age ON tickets (tenant_id, queue_id, status, created_at, id);
