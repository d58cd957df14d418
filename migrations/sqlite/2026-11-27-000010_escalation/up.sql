-- Escalation: where a ticket can be sent when the front line cannot finish it, and every time one
-- was. A records-system target (diariet) is an HTTP endpoint with a body template, optional auth
-- and an HMAC signature; the case number it answers with is kept on the ticket (diarienummer).
CREATE TABLE escalation_targets (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id),
    name            TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('records', 'referral', 'transfer')),
    url             TEXT,
    method          TEXT    NOT NULL DEFAULT 'POST' CHECK (method IN ('POST', 'PUT')),
    -- Extra request headers as a JSON object of strings.
    headers         TEXT    NOT NULL DEFAULT '{}',
    auth            TEXT    NOT NULL DEFAULT 'none' CHECK (auth IN ('none', 'bearer', 'basic')),
    auth_user       TEXT,
    -- Sealed with the installation's secret key (secrets.rs), never stored in clear.
    auth_secret     TEXT,
    hmac_secret     TEXT,
    content_type    TEXT    NOT NULL DEFAULT 'application/json',
    -- Handlebars; empty: the built-in JSON body (templates/escalation/records.json.hbs).
    body_template   TEXT    NOT NULL DEFAULT '',
    -- JSON pointer to the case number in the response, e.g. /caseNumber or /data/id.
    case_pointer    TEXT    NOT NULL DEFAULT '/caseNumber',
    timeout_seconds INTEGER NOT NULL DEFAULT 10,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, name)
);

-- The target an SLA breach rule or an agent's "Eskalera" uses by default for the queue's tickets.
ALTER TABLE queues ADD COLUMN escalation_target_id INTEGER REFERENCES escalation_targets(id);

CREATE TABLE escalations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL,
    ticket_id       INTEGER NOT NULL,
    target_id       INTEGER NOT NULL REFERENCES escalation_targets(id),
    state           TEXT    NOT NULL CHECK (state IN ('sending', 'sent', 'answered', 'overdue', 'failed')),
    -- Sent with every attempt, so the receiver creates one case however often it is asked.
    idempotency_key TEXT    NOT NULL UNIQUE,
    case_number     TEXT,
    requested_by    INTEGER REFERENCES users(id),
    reason          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
);
CREATE INDEX escalations_ticket ON escalations (tenant_id, ticket_id);

-- The records system's case number (diarienummer) once a case exists.
ALTER TABLE tickets ADD COLUMN diarienummer TEXT;
