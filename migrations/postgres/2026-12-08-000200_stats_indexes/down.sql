DROP INDEX stats_tickets_unanswered;
CREATE INDEX stats_tickets_unanswered ON stats_tickets (tenant_id, with_article, resolved_day);
DROP INDEX tickets_open_age;
