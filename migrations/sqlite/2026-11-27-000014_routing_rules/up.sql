-- Routing rules (regler för inkommande ärenden): checked in order when a new ticket arrives from a
-- channel. A rule matches when every condition it has holds (the queue the ticket arrived in, the
-- sender's address or domain, words in the subject or the text); a matching rule sets the
-- priority, moves the ticket to another queue, adds a tag and/or escalates it to a target, and may
-- stop the rules after it.
CREATE TABLE routing_rules (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id          INTEGER  NOT NULL REFERENCES tenants(id),
    position           INTEGER NOT NULL,
    name               TEXT    NOT NULL,
    enabled            BOOLEAN NOT NULL DEFAULT TRUE,
    -- Conditions; an empty one does not restrict.
    match_queue_id     INTEGER,
    -- Comma-separated addresses (maria@example.org) or domains (@lansstyrelsen.se).
    match_senders      TEXT    NOT NULL DEFAULT '',
    -- Comma-separated words or phrases, any of which must occur; a trailing * matches a prefix.
    match_words        TEXT    NOT NULL DEFAULT '',
    match_in           TEXT    NOT NULL DEFAULT 'subject_text' CHECK (match_in IN ('subject', 'subject_text')),
    -- Actions; an empty one does nothing.
    set_priority       TEXT    CHECK (set_priority IN ('low', 'normal', 'high', 'urgent')),
    set_queue_id       INTEGER,
    add_tag            TEXT,
    escalation_target_id INTEGER REFERENCES escalation_targets(id),
    stop               BOOLEAN NOT NULL DEFAULT FALSE,
    hits               INTEGER  NOT NULL DEFAULT 0,
    last_hit_at        TIMESTAMP,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, name),
    FOREIGN KEY (tenant_id, match_queue_id) REFERENCES queues (tenant_id, id),
    FOREIGN KEY (tenant_id, set_queue_id) REFERENCES queues (tenant_id, id)
);
CREATE INDEX routing_rules_order ON routing_rules (tenant_id, position);
