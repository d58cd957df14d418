ALTER TABLE tenants DROP COLUMN stats_per_agent;
DROP TABLE stats_cursor;
DROP TABLE stats_tickets;
DROP TABLE stats_keyed;
DROP TABLE stats_days;
