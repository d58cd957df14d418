CREATE TABLE stats_keyed (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    grain TEXT NOT NULL,
    measure TEXT NOT NULL,
    day TEXT NOT NULL,
    queue_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    n BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, grain, measure, day, queue_id, key)
);
INSERT INTO stats_keyed (tenant_id, grain, measure, day, queue_id, key, n)
SELECT s.tenant_id, s.grain, s.measure, s.day, s.queue_id, j.key, j.value
FROM stats_series s, json_each(s.counts) j;
DROP TABLE stats_series;
