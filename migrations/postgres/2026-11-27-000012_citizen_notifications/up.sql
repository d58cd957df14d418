-- What a queue tells citizens, and how much: the events that send a notification (received —
-- by SMS for those who chose it, mail gets the acknowledgement —, escalated with its
-- diarienummer, waiting for you, answered, resolved), and the information class
-- (skyddsklass 1–4). From the configured class on (default 2) notifications carry no content,
-- only a notice with the ticket number.
ALTER TABLE queues ADD COLUMN notify_events TEXT NOT NULL DEFAULT 'received,escalated,waiting,answered,resolved';
ALTER TABLE queues ADD COLUMN info_class INTEGER NOT NULL DEFAULT 1 CHECK (info_class BETWEEN 1 AND 4);
