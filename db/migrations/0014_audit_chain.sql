-- The audit log tamper-evident (issue 15): each row carries a keyed hash (HMAC-SHA256) of its content
-- and the previous row's hash (db/audit.py), so a row changed, removed or slipped in breaks the chain
-- from there on, even for someone who dropped the append-only triggers. Rows written before this
-- migration have none: the first chained row links to a digest of all of them.
ALTER TABLE audit_log ADD COLUMN chain TEXT NOT NULL DEFAULT '';
