ALTER TABLE tickets DROP COLUMN status_link_version;
