DROP TABLE kb_uses;
DROP TABLE kb_revisions;
DROP TABLE kb_articles;
