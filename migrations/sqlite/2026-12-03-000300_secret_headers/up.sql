-- Custom headers of a records-system target whose values are secret (e.g. X-Api-Key): a JSON
-- object of header name to the value sealed with the installation key. Write-only in the admin
-- page and CLI. Existing targets: headers whose names look secret (X-Api-Key, Authorization,
-- *token*, *secret*, *password*, *key*) are moved here and sealed at the next start
-- (escalation::seal_existing_secret_headers), since sealing needs the key.
ALTER TABLE escalation_targets ADD COLUMN secret_headers TEXT NOT NULL DEFAULT '{}';
