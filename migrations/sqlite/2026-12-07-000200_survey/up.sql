-- D65: servicemätning. Per queue, opt-in: after resolution the citizen gets one short survey
-- (bemötande, tydlighet, enkelhet 1–5, an optional comment) with the kind of matter.
CREATE TABLE survey_settings (
    queue_id      INTEGER PRIMARY KEY REFERENCES queues(id),
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    enabled       BOOLEAN NOT NULL DEFAULT 0,
    matter        TEXT    NOT NULL,
    period_days   INTEGER NOT NULL DEFAULT 90 CHECK (period_days BETWEEN 1 AND 730),
    delay_minutes INTEGER NOT NULL DEFAULT 60 CHECK (delay_minutes BETWEEN 0 AND 10080)
);
-- One row per survey offered (queued at resolution); sent, skipped (why) or answered later.
CREATE TABLE surveys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    queue_id    INTEGER NOT NULL REFERENCES queues(id),
    contact_id  INTEGER NOT NULL REFERENCES contacts(id),
    matter      TEXT    NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    sent_at     TIMESTAMP,
    channel     TEXT,
    skipped     TEXT,
    answered_at TIMESTAMP,
    bemotande   INTEGER CHECK (bemotande BETWEEN 1 AND 5),
    tydlighet   INTEGER CHECK (tydlighet BETWEEN 1 AND 5),
    enkelhet    INTEGER CHECK (enkelhet BETWEEN 1 AND 5),
    comment     TEXT
);
CREATE INDEX surveys_contact ON surveys (tenant_id, contact_id, created_at);
CREATE INDEX surveys_answered ON surveys (tenant_id, answered_at);
