ALTER TABLE escalation_targets DROP COLUMN transfer_queue_id;
ALTER TABLE escalations DROP COLUMN answered_at;
ALTER TABLE escalations DROP COLUMN answer;
ALTER TABLE escalations DROP COLUMN due_at;
ALTER TABLE escalation_targets DROP COLUMN allow_citizen_reply;
ALTER TABLE escalation_targets DROP COLUMN response_days;
ALTER TABLE escalation_targets DROP COLUMN referral_email;
