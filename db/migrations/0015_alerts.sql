-- Alerts to the administrators (issue 15): a nightly backup, drill or purge that failed, a disk running
-- low, a voice process that keeps restarting go out as email through the outbox like every message.
-- SQLite cannot change a CHECK constraint in place: the outbox is rebuilt (nothing references it).
CREATE TABLE outbox_new (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    event TEXT NOT NULL CHECK (event IN ('booking_confirmed', 'booking_changed', 'booking_cancelled',
                                         'reminder', 'slot_closed', 'ivr_sms', 'alert')),
    booking_id INTEGER REFERENCES booking (id),
    channel TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    idempotency_key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_at TEXT,
    resends INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    sent_at TEXT,
    gateway_id TEXT NOT NULL DEFAULT '',
    segments INTEGER NOT NULL DEFAULT 0 CHECK (segments >= 0),
    receipt TEXT NOT NULL DEFAULT '' CHECK (receipt IN ('', 'delivered', 'failed')),
    receipt_at TEXT,
    recipient BLOB,                                    -- encrypted: an IVR SMS's number, an alert's address
    body TEXT NOT NULL DEFAULT '',                     -- an IVR SMS's text as staff wrote it; an alert's subject and text
    did TEXT NOT NULL DEFAULT '',                      -- the line whose flow sent it (IVR SMS counts per line)
    CHECK (event NOT IN ('ivr_sms', 'alert') OR recipient IS NOT NULL)
);
INSERT INTO outbox_new (id, created_at, event, booking_id, channel, idempotency_key, status, attempts, next_attempt_at,
                        claimed_at, resends, last_error, sent_at, gateway_id, segments, receipt, receipt_at, recipient, body, did)
    SELECT id, created_at, event, booking_id, channel, idempotency_key, status, attempts, next_attempt_at, claimed_at, resends, last_error, sent_at, gateway_id, segments, receipt, receipt_at, recipient, body, did FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_booking ON outbox (booking_id);
CREATE INDEX outbox_by_sent ON outbox (sent_at);
