PRAGMA foreign_keys = OFF;
BEGIN;
DROP TABLE referral_handlers;
DELETE FROM users WHERE role = 'handler';
CREATE TABLE users_old (
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
INSERT INTO users_old SELECT id, tenant_id, email, display_name, role, password_hash, active, locale, created_at, updated_at FROM users;
DROP TABLE users;
ALTER TABLE users_old RENAME TO users;
COMMIT;
PRAGMA foreign_keys = ON;
