-- Mail without a Message-ID (and Message-ID collisions) are told apart by the raw source's SHA-256.
CREATE INDEX messages_raw_sha256 ON messages (tenant_id, raw_sha256);
