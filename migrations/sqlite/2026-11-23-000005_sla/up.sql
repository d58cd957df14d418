-- Service levels: calendars (opening hours, holidays), policies per queue and priority, each
-- ticket's clocks with their due instants, and the warnings and breaches that have fired.

-- A calendar's hours, closed holidays, closed and special days as one JSON document
-- (parsed into sla::Calendar; see docs/architecture.md).
CREATE TABLE sla_calendars (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    spec        TEXT NOT NULL,
    -- The tenant's calendar for queues that name none.
    is_default  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, name)
);

-- A queue's own calendar (NULL: the tenant's default calendar).
ALTER TABLE queues ADD COLUMN calendar_id INTEGER REFERENCES sla_calendars(id);

-- Targets in business minutes (NULL: not measured) and what to do on warning and breach
-- (JSON list of sla::Rule).
CREATE TABLE sla_policies (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id               INTEGER NOT NULL REFERENCES tenants(id),
    queue_id                INTEGER NOT NULL REFERENCES queues(id),
    priority                TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    first_response_minutes  INTEGER,
    next_response_minutes   INTEGER,
    resolution_minutes      INTEGER,
    warn_percent            INTEGER NOT NULL DEFAULT 80 CHECK (warn_percent BETWEEN 1 AND 99),
    rules                   TEXT NOT NULL DEFAULT '[]',
    updated_at              TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, queue_id, priority)
);

-- One row per ticket and target: the clock replayed from the ticket's history (sla::timeline)
-- and when the sweeper must look at it next (the warning or the breach instant not yet fired).
CREATE TABLE ticket_sla (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      INTEGER NOT NULL REFERENCES tenants(id),
    ticket_id      INTEGER NOT NULL REFERENCES tickets(id),
    target         TEXT NOT NULL CHECK (target IN ('first_response', 'next_response', 'resolution')),
    cycle          INTEGER NOT NULL,
    budget_secs    BIGINT NOT NULL,
    used_secs      BIGINT NOT NULL,
    running_since  TIMESTAMP,
    warn_at        TIMESTAMP,
    due_at         TIMESTAMP,
    met_at         TIMESTAMP,
    met_in_time    BOOLEAN,
    warned_cycle   INTEGER NOT NULL DEFAULT 0,
    breached_cycle INTEGER NOT NULL DEFAULT 0,
    next_check_at  TIMESTAMP,
    updated_at     TIMESTAMP NOT NULL,
    UNIQUE (ticket_id, target)
);
CREATE INDEX ticket_sla_next_check ON ticket_sla (next_check_at);
CREATE INDEX ticket_sla_met ON ticket_sla (tenant_id, met_at);

-- Each warning and breach fires once per ticket, target and round: the key makes a second
-- sweeper's attempt fail instead of acting twice.
CREATE TABLE sla_firings (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    target     TEXT NOT NULL,
    cycle      INTEGER NOT NULL,
    level      TEXT NOT NULL CHECK (level IN ('warning', 'breach')),
    fired_at   TIMESTAMP NOT NULL,
    UNIQUE (ticket_id, target, cycle, level)
);

-- The ticket's most pressing open clock, for list badges, "sort by due" and the at-risk filter.
ALTER TABLE tickets ADD COLUMN sla_due_at TIMESTAMP;
ALTER TABLE tickets ADD COLUMN sla_state TEXT CHECK (sla_state IN ('ok', 'warning', 'breached'));
CREATE INDEX tickets_sla_due ON tickets (tenant_id, queue_id, sla_due_at, id);
CREATE INDEX tickets_sla_state ON tickets (tenant_id, sla_state, queue_id);

-- How far the SLA follower has read the change feed (one row; the lease lets one node follow).
CREATE TABLE sla_cursor (
    id            INTEGER PRIMARY KEY,
    last_event_id INTEGER NOT NULL,
    lease_owner   TEXT,
    lease_until   TIMESTAMP
);
INSERT INTO sla_cursor (id, last_event_id) VALUES (1, 0);
