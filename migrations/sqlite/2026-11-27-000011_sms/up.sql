-- SMS to citizens: each municipality's gateway account, and every message with its encoding,
-- parts, cost and delivery status (for the ticket and for internal billing per department).
CREATE TABLE sms_gateways (
    tenant_id       INTEGER PRIMARY KEY REFERENCES tenants(id),
    -- 'outbox': files in <data_dir>/sms-outbox (demo, tests); 'rest': form-encoded POST of
    -- from/to/message with basic auth, the common shape of Swedish SMS REST APIs; 'http': any
    -- HTTP API, with a handlebars body template and a JSON pointer to the message id.
    provider        TEXT    NOT NULL CHECK (provider IN ('outbox', 'rest', 'http')),
    url             TEXT,
    username        TEXT,
    -- Sealed with the installation's secret key.
    password        TEXT,
    -- Sender shown on the phone: up to 11 letters and digits, or a phone number.
    sender          TEXT    NOT NULL,
    -- Whether the gateway sends å, ä, ö in GSM-7 (else they make a message UCS-2).
    nordic_gsm7     BOOLEAN NOT NULL DEFAULT FALSE,
    -- What one part costs, in öre, for internal billing.
    price_ore       INTEGER NOT NULL DEFAULT 0,
    -- The 'http' provider: body template ({{from}}, {{to}}, {{message}}, {{report_url}}), its
    -- content type, and where the message id is in the answer.
    body_template   TEXT    NOT NULL DEFAULT '',
    content_type    TEXT    NOT NULL DEFAULT 'application/json',
    id_pointer      TEXT    NOT NULL DEFAULT '/id',
    -- Secret part of the delivery-report address given to the gateway.
    report_token    TEXT    NOT NULL UNIQUE,
    updated_at      TIMESTAMP NOT NULL
);

CREATE TABLE sms_messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id),
    ticket_id       INTEGER,
    -- The department billed (the ticket's queue when sent).
    queue_id        INTEGER REFERENCES queues(id),
    to_number       TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    encoding        TEXT    NOT NULL CHECK (encoding IN ('gsm7', 'ucs2')),
    segments        INTEGER NOT NULL,
    cost_ore        BIGINT  NOT NULL,
    provider        TEXT    NOT NULL,
    provider_ref    TEXT,
    status          TEXT    NOT NULL CHECK (status IN ('queued', 'sent', 'delivered', 'failed')),
    error           TEXT,
    sent_by         INTEGER REFERENCES users(id),
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP,
    delivered_at    TIMESTAMP,
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
);
CREATE INDEX sms_messages_ticket ON sms_messages (tenant_id, ticket_id);
CREATE INDEX sms_messages_month ON sms_messages (tenant_id, created_at);
CREATE INDEX sms_messages_ref ON sms_messages (tenant_id, provider_ref);
