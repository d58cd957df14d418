-- Tickets an agent registers by hand ("Nytt ärende": a phone call, a visit at the desk, a letter):
-- how the citizen got in touch, and whether the question was answered during that contact
-- (first-contact resolution, for statistics). tickets.channel keeps its vocabulary (D53).
CREATE TABLE ticket_intake (
    ticket_id                 INTEGER PRIMARY KEY REFERENCES tickets(id),
    tenant_id                 INTEGER NOT NULL REFERENCES tenants(id),
    channel                   TEXT    NOT NULL CHECK (channel IN ('phone', 'visit', 'letter', 'email', 'sms')),
    answered_at_first_contact BOOLEAN NOT NULL DEFAULT FALSE,
    registered_by             INTEGER REFERENCES users(id),
    created_at                TIMESTAMP NOT NULL
);
CREATE INDEX ticket_intake_tenant ON ticket_intake (tenant_id, created_at);
