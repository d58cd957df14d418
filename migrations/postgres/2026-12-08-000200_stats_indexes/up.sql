-- Two searches of the statistics page that read far more than they return at a million tickets:
-- the oldest open ticket (one search per queue and status that stops at its first row, instead
-- of reading every open ticket of the queues to sort them by age), and the latest questions no
-- article answered (newest first to the ticket, so it stops after the 25 it shows).
CREATE INDEX tickets_open_age ON tickets (tenant_id, queue_id, status, created_at, id);
DROP INDEX stats_tickets_unanswered;
CREATE INDEX stats_tickets_unanswered ON stats_tickets (tenant_id, with_article, resolved_day, ticket_id);
