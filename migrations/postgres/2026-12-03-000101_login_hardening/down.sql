DROP TABLE periodic_jobs;
DROP INDEX sessions_expires;
DROP INDEX login_throttle_expires;
ALTER TABLE login_throttle DROP COLUMN expires_at;
