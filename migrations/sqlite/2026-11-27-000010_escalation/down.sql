ALTER TABLE tickets DROP COLUMN diarienummer;
DROP TABLE escalations;
ALTER TABLE queues DROP COLUMN escalation_target_id;
DROP TABLE escalation_targets;
