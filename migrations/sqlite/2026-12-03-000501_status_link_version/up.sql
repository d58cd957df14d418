-- A ticket's status-link version: every status link carries the version it was made for, and
-- opens the page only while the ticket still has that version. Revoking a ticket's links (and
-- merging it away) bumps it, so every link sent before stops working at once.
ALTER TABLE tickets ADD COLUMN status_link_version INTEGER NOT NULL DEFAULT 0;
