-- Issue 16: throttle keys are hashed now (old rows hold raw keys: drop them), every row knows
-- when it can go, and a housekeeping job prunes expired throttle rows and sessions once per
-- period across all nodes (the run is claimed on its `periodic_jobs` row).
DELETE FROM login_throttle;
ALTER TABLE login_throttle ADD COLUMN expires_at TIMESTAMP;
CREATE INDEX login_throttle_expires ON login_throttle (expires_at);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE TABLE periodic_jobs (
    name        TEXT      PRIMARY KEY,
    last_run_at TIMESTAMP NOT NULL,
    run_by      TEXT
);
INSERT INTO periodic_jobs (name, last_run_at) VALUES ('housekeeping', '2000-01-01 00:00:00');
