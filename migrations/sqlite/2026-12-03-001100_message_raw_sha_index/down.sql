DROP INDEX messages_raw_sha256;
