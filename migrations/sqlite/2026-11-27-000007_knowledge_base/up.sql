-- The knowledge base: articles with their current content and counters, every revision of the
-- content (who, when, what happened), and which tickets were answered with which article.
CREATE TABLE kb_articles (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    slug        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    summary     TEXT    NOT NULL,
    -- Markdown.
    body        TEXT    NOT NULL,
    -- Lower-case tags joined by ", " (a tag holds no comma).
    tags        TEXT    NOT NULL,
    -- The owning department's slug (a queue's slug, or one of the municipality's own).
    department  TEXT    NOT NULL,
    audience    TEXT    NOT NULL CHECK (audience IN ('internal', 'public')),
    language    TEXT    NOT NULL CHECK (language IN ('sv', 'en')),
    status      TEXT    NOT NULL CHECK (status IN ('draft', 'published', 'archived')),
    -- The number of the newest kb_revisions row; the search index compares it with its own.
    revision    INTEGER NOT NULL,
    views       BIGINT  NOT NULL DEFAULT 0,
    uses        BIGINT  NOT NULL DEFAULT 0,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, slug)
);

CREATE TABLE kb_revisions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    article_id  INTEGER NOT NULL REFERENCES kb_articles(id),
    revision    INTEGER NOT NULL,
    slug        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    summary     TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    tags        TEXT    NOT NULL,
    department  TEXT    NOT NULL,
    audience    TEXT    NOT NULL,
    language    TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    -- NULL: written by an import of article files.
    author_id   INTEGER REFERENCES users(id),
    -- What happened: create, edit, import, publish, archive, unpublish, restore.
    note        TEXT    NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (article_id, revision)
);

CREATE TABLE kb_uses (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    article_id  INTEGER NOT NULL REFERENCES kb_articles(id),
    user_id     INTEGER REFERENCES users(id),
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (ticket_id, article_id)
);
CREATE INDEX kb_uses_article ON kb_uses (tenant_id, article_id);
