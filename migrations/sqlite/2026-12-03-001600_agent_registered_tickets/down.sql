DROP TABLE ticket_intake;
