-- Referral (remiss) to a department: where the mail goes, how many days the department has,
-- whether its handler may answer the citizen directly; per referral its deadline and answer.
-- Transfer to a department: the queue the whole ticket moves to.
ALTER TABLE escalation_targets ADD COLUMN referral_email TEXT;
ALTER TABLE escalation_targets ADD COLUMN response_days INTEGER;
ALTER TABLE escalation_targets ADD COLUMN allow_citizen_reply BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE escalations ADD COLUMN due_at TIMESTAMP;
ALTER TABLE escalations ADD COLUMN answer TEXT;
ALTER TABLE escalations ADD COLUMN answered_at TIMESTAMP;
ALTER TABLE escalation_targets ADD COLUMN transfer_queue_id BIGINT REFERENCES queues(id);
