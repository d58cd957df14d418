-- D64 (revised): the keyed series (time histograms, transfers, articles, tags, hours, agents)
-- are kept as one row per queue, measure and day or month, holding every key's number as a
-- JSON object {"key": n}, instead of one row per key. A report over a year then reads a
-- dozen rows per queue and measure instead of thousands (the statistics page's target at a
-- million tickets). Only the statistics follower and a rebuild write them, one at a time.
CREATE TABLE stats_series (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    grain TEXT NOT NULL,
    day TEXT NOT NULL,
    queue_id BIGINT NOT NULL,
    measure TEXT NOT NULL,
    counts TEXT NOT NULL,
    PRIMARY KEY (tenant_id, grain, day, queue_id, measure)
);
INSERT INTO stats_series (tenant_id, grain, day, queue_id, measure, counts)
SELECT tenant_id, grain, day, queue_id, measure, json_group_object(key, n)
FROM stats_keyed WHERE n <> 0
GROUP BY tenant_id, grain, day, queue_id, measure;
DROP TABLE stats_keyed;
