DROP TABLE sent_mail;
