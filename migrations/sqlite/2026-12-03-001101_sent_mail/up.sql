-- Every mail Ärendo sends about a ticket that is not a conversation message (status
-- notifications, status-link mails, referral mails): its Message-ID, so that a citizen's answer
-- (In-Reply-To) lands on the ticket and our own mail coming back is recognised.
CREATE TABLE sent_mail (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    message_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX sent_mail_message_id ON sent_mail (tenant_id, message_id);
