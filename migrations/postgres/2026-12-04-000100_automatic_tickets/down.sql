ALTER TABLE tickets DROP COLUMN automatic;
