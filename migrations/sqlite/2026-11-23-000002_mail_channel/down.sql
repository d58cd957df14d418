DROP TABLE acknowledgements;
DROP TABLE ticket_links;
DROP TABLE message_receipts;
DROP TABLE mailbox_state;
ALTER TABLE tickets DROP COLUMN mailbox_id;
ALTER TABLE queues DROP COLUMN ack_template;
ALTER TABLE mailboxes DROP COLUMN smtp;
ALTER TABLE tenants DROP COLUMN smtp;
