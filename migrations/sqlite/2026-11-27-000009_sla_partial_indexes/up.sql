-- The sweeper rewrites each due clock (next check, rounds fired); an index that a running clock
-- is not in costs that write nothing. Only clocks with a next check are claimed, and only met
-- clocks are counted in the monthly report, so both indexes hold just those rows: a sweep of
-- 1,000 clocks updates two indexes per row instead of four (and the indexes stay small).
DROP INDEX ticket_sla_next_check;
CREATE INDEX ticket_sla_next_check ON ticket_sla (next_check_at) WHERE next_check_at IS NOT NULL;
DROP INDEX ticket_sla_met;
CREATE INDEX ticket_sla_met ON ticket_sla (tenant_id, met_at) WHERE met_at IS NOT NULL;
