-- What could not be shown of an incoming mail (an attachment over the size limit, a truncated
-- part, bad base64, an unknown charset): kept per message so the agent sees a notice and knows
-- to open the original (.eml). The raw source itself is in the blob store (messages.raw_sha256).
CREATE TABLE message_problems (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    message_id  INTEGER NOT NULL REFERENCES messages(id),
    kind        TEXT    NOT NULL CHECK (kind IN ('oversize', 'truncated', 'bad_base64', 'charset', 'unreadable')),
    filename    TEXT,
    size_bytes  BIGINT,
    detail      TEXT,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX message_problems_message ON message_problems (tenant_id, message_id);
