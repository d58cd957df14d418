-- D64: statistics. Each ticket's contribution to the figures is kept (stats_tickets.cells) and
-- summed into daily and monthly aggregates, wide counters per (queue, channel, priority) and
-- keyed series per queue (time histograms, transfers, articles, tags, hours, agents). The
-- statistics follower keeps them current from the ticket history under a lease; a rebuild
-- recomputes them from history. Days are local dates in Europe/Stockholm, as 'YYYY-MM-DD';
-- grain 'd' is one day, grain 'm' a calendar month (day = its first day).
CREATE TABLE stats_days (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    grain TEXT NOT NULL,
    day TEXT NOT NULL,
    queue_id BIGINT NOT NULL,
    channel TEXT NOT NULL,
    priority TEXT NOT NULL,
    created BIGINT NOT NULL DEFAULT 0,
    messages_in BIGINT NOT NULL DEFAULT 0,
    messages_out BIGINT NOT NULL DEFAULT 0,
    new_delta BIGINT NOT NULL DEFAULT 0,
    open_delta BIGINT NOT NULL DEFAULT 0,
    waiting_delta BIGINT NOT NULL DEFAULT 0,
    resolved BIGINT NOT NULL DEFAULT 0,
    resolved_first_contact BIGINT NOT NULL DEFAULT 0,
    resolved_with_article BIGINT NOT NULL DEFAULT 0,
    resolved_reopened BIGINT NOT NULL DEFAULT 0,
    mail_questions BIGINT NOT NULL DEFAULT 0,
    mail_answered_in_day BIGINT NOT NULL DEFAULT 0,
    referred BIGINT NOT NULL DEFAULT 0,
    referrals_answered BIGINT NOT NULL DEFAULT 0,
    escalated BIGINT NOT NULL DEFAULT 0,
    escalations_answered BIGINT NOT NULL DEFAULT 0,
    sla_first_met BIGINT NOT NULL DEFAULT 0,
    sla_next_met BIGINT NOT NULL DEFAULT 0,
    sla_resolution_met BIGINT NOT NULL DEFAULT 0,
    sla_first_in_time BIGINT NOT NULL DEFAULT 0,
    sla_next_in_time BIGINT NOT NULL DEFAULT 0,
    sla_resolution_in_time BIGINT NOT NULL DEFAULT 0,
    sla_first_warned BIGINT NOT NULL DEFAULT 0,
    sla_next_warned BIGINT NOT NULL DEFAULT 0,
    sla_resolution_warned BIGINT NOT NULL DEFAULT 0,
    sla_first_breached BIGINT NOT NULL DEFAULT 0,
    sla_next_breached BIGINT NOT NULL DEFAULT 0,
    sla_resolution_breached BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, grain, day, queue_id, channel, priority)
);
CREATE TABLE stats_keyed (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    grain TEXT NOT NULL,
    measure TEXT NOT NULL,
    day TEXT NOT NULL,
    queue_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    n BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, grain, measure, day, queue_id, key)
);
CREATE TABLE stats_tickets (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    ticket_id BIGINT NOT NULL,
    channel TEXT NOT NULL,
    first_day TEXT NOT NULL,
    last_day TEXT NOT NULL,
    in_backlog BOOLEAN NOT NULL DEFAULT 0,
    resolved_day TEXT NULL,
    with_article BOOLEAN NOT NULL DEFAULT 0,
    cells TEXT NOT NULL,
    PRIMARY KEY (tenant_id, ticket_id)
);
CREATE INDEX stats_tickets_span ON stats_tickets (tenant_id, first_day, last_day);
CREATE INDEX stats_tickets_unanswered ON stats_tickets (tenant_id, with_article, resolved_day);
-- The follower's position in the ticket history and its lease (one node at a time).
CREATE TABLE stats_cursor (
    id INTEGER PRIMARY KEY,
    last_event_id BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT NULL,
    lease_until TIMESTAMP NULL
);
INSERT INTO stats_cursor (id, last_event_id) VALUES (1, 0);
-- Per-agent figures are off until an admin turns them on (workplace monitoring is agreed with
-- the unions in Swedish workplaces).
ALTER TABLE tenants ADD COLUMN stats_per_agent BOOLEAN NOT NULL DEFAULT 0;
