ALTER TABLE escalation_targets DROP COLUMN secret_headers;
