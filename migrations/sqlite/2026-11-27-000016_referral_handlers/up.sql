-- Referral handlers (handläggare): department staff with a light account. They sign in to see
-- the referrals sent to their departments and answer them; nothing else of Ärendo is theirs.
-- The users table is rebuilt for its new CHECK (SQLite's documented procedure: foreign keys
-- off, one transaction, copy, swap, check, foreign keys on).
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE users_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id),
    email           TEXT    NOT NULL,
    display_name    TEXT    NOT NULL,
    role            TEXT    NOT NULL CHECK (role IN ('admin', 'agent', 'handler')),
    password_hash   TEXT    NOT NULL,
    active          BOOLEAN NOT NULL DEFAULT 1,
    locale          TEXT    NOT NULL DEFAULT 'sv',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, email)
);
INSERT INTO users_new (id, tenant_id, email, display_name, role, password_hash, active, locale, created_at, updated_at)
    SELECT id, tenant_id, email, display_name, role, password_hash, active, locale, created_at, updated_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

-- Which referral departments (escalation targets of kind referral) a handler answers for.
CREATE TABLE referral_handlers (
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    target_id  INTEGER NOT NULL REFERENCES escalation_targets(id),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (target_id, user_id)
);
CREATE INDEX referral_handlers_user ON referral_handlers (tenant_id, user_id);
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
