ALTER TABLE queues DROP COLUMN info_class;
ALTER TABLE queues DROP COLUMN notify_events;
