-- Ärendo schema v1 (SQLite). Keep in step with ../../postgres/ and src/store/schema.rs.
-- Timestamps are UTC, stored as TIMESTAMP text with microseconds.

CREATE TABLE tenants (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    slug          TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    ticket_prefix TEXT    NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id),
    email           TEXT    NOT NULL,
    display_name    TEXT    NOT NULL,
    role            TEXT    NOT NULL CHECK (role IN ('admin', 'agent')),
    password_hash   TEXT    NOT NULL,
    active          BOOLEAN NOT NULL DEFAULT 1,
    locale          TEXT    NOT NULL DEFAULT 'sv',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, email)
);

CREATE TABLE queues (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    slug        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, slug),
    UNIQUE (tenant_id, id)
);

CREATE TABLE queue_members (
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    queue_id   INTEGER NOT NULL REFERENCES queues(id),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    role       TEXT    NOT NULL CHECK (role IN ('lead', 'agent')),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (queue_id, user_id)
);
CREATE INDEX queue_members_user ON queue_members (tenant_id, user_id);

CREATE TABLE mailboxes (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id          INTEGER NOT NULL REFERENCES tenants(id),
    address            TEXT    NOT NULL,
    queue_id           INTEGER NOT NULL REFERENCES queues(id),
    imap_host          TEXT    NOT NULL,
    imap_port          INTEGER NOT NULL,
    imap_tls           TEXT    NOT NULL CHECK (imap_tls IN ('implicit', 'starttls', 'plain')),
    imap_user          TEXT    NOT NULL,
    imap_password_enc  TEXT    NOT NULL,
    folder             TEXT    NOT NULL,
    after_import       TEXT    NOT NULL CHECK (after_import IN ('seen', 'move')),
    processed_folder   TEXT    NOT NULL,
    reply_from         TEXT    NOT NULL,
    enabled            BOOLEAN NOT NULL DEFAULT 1,
    created_at         TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, address)
);

CREATE TABLE contacts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id         INTEGER NOT NULL REFERENCES tenants(id),
    name              TEXT,
    email             TEXT,
    phone             TEXT,
    preferred_channel TEXT    NOT NULL CHECK (preferred_channel IN ('email', 'sms')),
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX contacts_email ON contacts (tenant_id, email);
CREATE INDEX contacts_phone ON contacts (tenant_id, phone);

CREATE TABLE ticket_counters (
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    year       INTEGER NOT NULL,
    last_value BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, year)
);

CREATE TABLE tickets (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id         INTEGER NOT NULL REFERENCES tenants(id),
    number            TEXT    NOT NULL,
    subject           TEXT    NOT NULL,
    status            TEXT    NOT NULL CHECK (status IN ('new', 'open', 'waiting', 'resolved', 'closed')),
    priority          TEXT    NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    queue_id          INTEGER NOT NULL,
    assignee_id       INTEGER REFERENCES users(id),
    contact_id        INTEGER REFERENCES contacts(id),
    channel           TEXT    NOT NULL CHECK (channel IN ('email', 'web', 'api', 'phone', 'sms')),
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    first_response_at TIMESTAMP,
    resolved_at       TIMESTAMP,
    closed_at         TIMESTAMP,
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, queue_id) REFERENCES queues (tenant_id, id)
);
CREATE INDEX tickets_queue_status ON tickets (tenant_id, queue_id, status, id);
CREATE INDEX tickets_tenant_id ON tickets (tenant_id, id);
CREATE INDEX tickets_assignee ON tickets (tenant_id, assignee_id, status);
CREATE INDEX tickets_contact ON tickets (tenant_id, contact_id);

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    ticket_id     INTEGER NOT NULL REFERENCES tickets(id),
    kind          TEXT    NOT NULL CHECK (kind IN ('inbound', 'outbound', 'note')),
    author_id     INTEGER REFERENCES users(id),
    from_addr     TEXT,
    to_addrs      TEXT    NOT NULL DEFAULT '',
    cc_addrs      TEXT    NOT NULL DEFAULT '',
    subject       TEXT    NOT NULL DEFAULT '',
    body_text     TEXT    NOT NULL,
    body_html     TEXT,
    message_id    TEXT,
    in_reply_to   TEXT,
    references_   TEXT,
    raw_sha256    TEXT,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX messages_ticket ON messages (ticket_id, id);
CREATE INDEX messages_message_id ON messages (tenant_id, message_id);

CREATE TABLE attachments (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    message_id    INTEGER NOT NULL REFERENCES messages(id),
    filename      TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    size_bytes    BIGINT  NOT NULL,
    sha256        TEXT    NOT NULL,
    inline        BOOLEAN NOT NULL DEFAULT 0,
    content_id    TEXT,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX attachments_message ON attachments (message_id);

CREATE TABLE ticket_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    actor_id    INTEGER REFERENCES users(id),
    kind        TEXT    NOT NULL,
    details     TEXT    NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);

CREATE TABLE sessions (
    id           TEXT    PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    user_id      INTEGER NOT NULL REFERENCES users(id),
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    revoked_at   TIMESTAMP
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id           TEXT    PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    user_id      INTEGER NOT NULL REFERENCES users(id),
    name         TEXT    NOT NULL,
    scopes       TEXT    NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP,
    revoked_at   TIMESTAMP
);
CREATE INDEX api_tokens_user ON api_tokens (tenant_id, user_id);

CREATE TABLE login_throttle (
    key              TEXT    PRIMARY KEY,
    failures         INTEGER NOT NULL,
    window_start     TIMESTAMP NOT NULL,
    locked_until     TIMESTAMP
);

-- Transactional outbox: every side effect (mail, SMS, webhook, index update) is written here in the
-- same transaction as the change that causes it, and delivered by workers that claim rows with a lease.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id),
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    ticket_id       INTEGER REFERENCES tickets(id),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_owner     TEXT,
    lease_until     TIMESTAMP,
    last_error      TEXT,
    done_at         TIMESTAMP,
    dead_at         TIMESTAMP,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE done_at IS NULL AND dead_at IS NULL;
