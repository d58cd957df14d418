-- Mail channel: IMAP state per mailbox, where each message came from, links between tickets,
-- per-tenant / per-mailbox SMTP settings and acknowledgement bookkeeping.

-- SMTP settings as JSON ({"host","port","tls","user","password_enc","from"}); NULL = inherit.
ALTER TABLE tenants ADD COLUMN smtp TEXT;
ALTER TABLE mailboxes ADD COLUMN smtp TEXT;
-- The queue's acknowledgement template (handlebars); NULL = the built-in Swedish text.
ALTER TABLE queues ADD COLUMN ack_template TEXT;
-- The function mailbox a ticket came in through; replies are sent from its address.
ALTER TABLE tickets ADD COLUMN mailbox_id INTEGER REFERENCES mailboxes(id);

-- Where the IMAP worker is in each mailbox, and which node works it (a lease).
CREATE TABLE mailbox_state (
    mailbox_id    INTEGER PRIMARY KEY REFERENCES mailboxes(id),
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    uidvalidity   BIGINT,
    last_uid      BIGINT NOT NULL DEFAULT 0,
    lease_owner   TEXT,
    lease_until   TIMESTAMP,
    last_ok_at    TIMESTAMP,
    last_error    TEXT
);

-- Every copy of a stored message that arrived: through which mailbox, with which IMAP UID. The
-- unique key makes an import idempotent; one Message-ID through several mailboxes is one message.
CREATE TABLE message_receipts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    message_id   INTEGER NOT NULL REFERENCES messages(id),
    mailbox_id   INTEGER REFERENCES mailboxes(id),
    uidvalidity  BIGINT NOT NULL DEFAULT 0,
    uid          BIGINT NOT NULL DEFAULT 0,
    source       TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX message_receipts_imap ON message_receipts (mailbox_id, uidvalidity, uid) WHERE uid > 0;
CREATE INDEX message_receipts_message ON message_receipts (message_id);

-- Related tickets (e.g. a stranger's mail quoting someone else's ticket number).
CREATE TABLE ticket_links (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    other_id    INTEGER NOT NULL REFERENCES tickets(id),
    kind        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX ticket_links_ticket ON ticket_links (ticket_id);

-- Acknowledgements sent, for the per-sender rate limit.
CREATE TABLE acknowledgements (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    address     TEXT NOT NULL,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX acknowledgements_address ON acknowledgements (tenant_id, address, created_at);
