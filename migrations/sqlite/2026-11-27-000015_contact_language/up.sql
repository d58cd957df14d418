-- The language a contact is written to in (notifications, acknowledgements, the status page):
-- Swedish unless the first mail was in English or an agent chose English.
ALTER TABLE contacts ADD COLUMN language TEXT NOT NULL DEFAULT 'sv' CHECK (language IN ('sv', 'en'));
