-- The purge's reports (issue 15): what was removed, from which periods, when; signed with the box's
-- Ed25519 key (db/signing.py) and kept whole as the JSON that was signed, listed on the admin site.
CREATE TABLE purge_report (
    id INTEGER PRIMARY KEY,
    made_at TEXT NOT NULL,
    dry_run INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
    document TEXT NOT NULL
);
CREATE INDEX purge_report_made_at ON purge_report (made_at);
