ALTER TABLE escalation_targets DROP COLUMN referral_pauses_sla;
DELETE FROM ticket_events WHERE kind = 'sla_corrected';
ALTER TABLE messages DROP COLUMN auto_sent;
