-- The agent workspace: tags, merges, canned responses, presence ("NN is writing a reply") and the
-- indexes the workspace lists need with a million tickets.

-- Priority as a number for "most urgent first" (low 0, normal 1, high 2, urgent 3); kept by the store.
ALTER TABLE tickets ADD COLUMN priority_rank INTEGER NOT NULL DEFAULT 1;
UPDATE tickets SET priority_rank = CASE priority
    WHEN 'low' THEN 0 WHEN 'normal' THEN 1 WHEN 'high' THEN 2 ELSE 3 END;
-- A ticket merged into another stays readable but closed; this points at the one that lives on.
ALTER TABLE tickets ADD COLUMN merged_into_id INTEGER REFERENCES tickets(id);

CREATE INDEX tickets_queue_work ON tickets (tenant_id, queue_id, status, priority_rank, id);
CREATE INDEX tickets_assignee_work ON tickets (tenant_id, assignee_id, status, priority_rank, id);
CREATE INDEX tickets_queue_updated ON tickets (tenant_id, queue_id, updated_at, id);

CREATE TABLE ticket_tags (
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    tag        TEXT    NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (ticket_id, tag)
);
CREATE INDEX ticket_tags_tag ON ticket_tags (tenant_id, tag, ticket_id);

CREATE TABLE canned_responses (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    -- NULL: available in every queue of the tenant.
    queue_id    INTEGER REFERENCES queues(id),
    title       TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX canned_responses_tenant ON canned_responses (tenant_id, queue_id);

CREATE TABLE presence (
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    user_id     INTEGER NOT NULL REFERENCES users(id),
    expires_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (ticket_id, user_id)
);
CREATE INDEX presence_updated ON presence (updated_at);

CREATE INDEX ticket_events_tenant ON ticket_events (tenant_id, id);
CREATE INDEX ticket_links_other ON ticket_links (other_id);
