DROP TABLE sms_messages;
DROP TABLE sms_gateways;
