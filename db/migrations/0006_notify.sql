-- Notifications: reminders join the outbox, a message being sent is marked first (so a crash leaves
-- a trace), gateway ids, billed SMS parts and delivery receipts are kept for metering.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt (nothing references it).
CREATE TABLE outbox_new (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    event TEXT NOT NULL CHECK (event IN ('booking_confirmed', 'booking_changed', 'booking_cancelled',
                                         'reminder', 'slot_closed')),
    booking_id INTEGER REFERENCES booking (id),
    channel TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    idempotency_key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_at TEXT,                                   -- set with status 'sending', before the hand-over
    resends INTEGER NOT NULL DEFAULT 0,                -- staff pressed 再送; part of the gateway reference
    last_error TEXT NOT NULL DEFAULT '',               -- a reason code, never personal data
    sent_at TEXT,
    gateway_id TEXT NOT NULL DEFAULT '',
    segments INTEGER NOT NULL DEFAULT 0 CHECK (segments >= 0),
    receipt TEXT NOT NULL DEFAULT '' CHECK (receipt IN ('', 'delivered', 'failed')),
    receipt_at TEXT
);
INSERT INTO outbox_new (id, created_at, event, booking_id, channel, idempotency_key, status, attempts,
                        next_attempt_at, last_error, sent_at)
    SELECT id, created_at, event, booking_id, channel, idempotency_key, status, attempts, next_attempt_at,
           last_error, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_booking ON outbox (booking_id);
CREATE INDEX outbox_by_sent ON outbox (sent_at);

-- Scheduled jobs that run once per day (reminders): the day done, so a restart never repeats one.
CREATE TABLE job_run (
    job TEXT NOT NULL,
    day TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    result TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job, day)
) WITHOUT ROWID;
