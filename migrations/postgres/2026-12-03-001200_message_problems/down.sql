DROP TABLE message_problems;
