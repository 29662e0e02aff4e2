-- Key-press IVR lines (issue 14): a phone line's mode, its flow graphs as versioned JSON, the calendars
-- their schedule nodes read, the flow version each call followed, and SMS that a flow sends (the
-- staff-written text and the number the caller gave, not tied to a booking).

-- 'dtmf_only': the line's calls never reach speech recognition (a city where AI phone is not allowed).
ALTER TABLE phone_line ADD COLUMN mode TEXT NOT NULL DEFAULT 'ai' CHECK (mode IN ('ai', 'dtmf_only'));

CREATE TABLE flow_version (
    id INTEGER PRIMARY KEY,
    did TEXT NOT NULL REFERENCES phone_line (did) ON DELETE CASCADE,
    version INTEGER NOT NULL CHECK (version >= 1),
    status TEXT NOT NULL CHECK (status IN ('draft', 'published', 'retired')),
    graph TEXT NOT NULL,                               -- JSON (db/flowgraph.py)
    comment TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    published_at TEXT,
    published_by TEXT NOT NULL DEFAULT '',
    UNIQUE (did, version)
);
-- at most one draft and one published version per line: a call always knows which one it follows
CREATE UNIQUE INDEX flow_version_one_draft ON flow_version (did) WHERE status = 'draft';
CREATE UNIQUE INDEX flow_version_one_published ON flow_version (did) WHERE status = 'published';

CREATE TABLE calendar (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    weekly TEXT NOT NULL DEFAULT '{}',                 -- JSON: weekday (0 = Monday) → ["08:45-17:15", ...]
    holidays_closed INTEGER NOT NULL DEFAULT 1,        -- national holidays (jpholiday) are closed days
    year_end_closed INTEGER NOT NULL DEFAULT 1,        -- 12/29-1/3 are closed days
    exceptions TEXT NOT NULL DEFAULT '[]',             -- JSON: [{"date", "hours": [...], "label"}], first
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);

-- Where a flow's transfer node sends a caller (the transfer_targets setting still adds its own names).
CREATE TABLE transfer_target (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    address TEXT NOT NULL,                             -- sip:user@host, or a number dialled via transfer_via
    label TEXT NOT NULL DEFAULT '',
    group_name TEXT NOT NULL DEFAULT '',               -- the phones of one group share a call queue
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);

-- Callers waiting for a group's phones (a flow's queue node), and what became of each wait, for the
-- statistics (as Asterisk's queue_log: entered, connected, abandoned, timed out, turned away as full).
CREATE TABLE queue_entry (
    id INTEGER PRIMARY KEY,
    sip_call_id TEXT NOT NULL,
    did TEXT NOT NULL,
    group_name TEXT NOT NULL,
    entered_at TEXT NOT NULL,                          -- the order callers are served in
    state TEXT NOT NULL DEFAULT 'waiting'
        CHECK (state IN ('waiting', 'offered', 'connected', 'abandoned', 'timeout')),
    target TEXT NOT NULL DEFAULT '',                   -- the phone offered (being rung) or connected
    offered_at TEXT,
    left_at TEXT,
    wait_s REAL                                        -- from entering to connecting or leaving
);
CREATE INDEX queue_entry_waiting ON queue_entry (group_name, state, entered_at);
CREATE UNIQUE INDEX queue_entry_one_per_call ON queue_entry (sip_call_id) WHERE state IN ('waiting', 'offered');

-- Staff phones (softphones, desk phones) that register to the appliance's Kamailio as extensions:
-- digest credentials kept only as HA1 = MD5(number:madoguchi:password), as Kamailio checks them.
CREATE TABLE extension (
    id INTEGER PRIMARY KEY,
    number TEXT NOT NULL UNIQUE CHECK (length(number) BETWEEN 2 AND 6 AND number NOT GLOB '*[^0-9]*'),
    label TEXT NOT NULL DEFAULT '',
    ha1 TEXT NOT NULL CHECK (length(ha1) = 32),
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);

ALTER TABLE call_record ADD COLUMN flow_version INTEGER;  -- the version of the line's flow the call followed
-- while the call goes on, for the live view: where it is in its flow, the keys pressed so far
-- (encrypted: a caller may key a phone number) and what it is doing (in the flow, ringing, talking)
ALTER TABLE call_record ADD COLUMN live_step TEXT NOT NULL DEFAULT '';
ALTER TABLE call_record ADD COLUMN live_keys BLOB;
ALTER TABLE call_record ADD COLUMN live_state TEXT NOT NULL DEFAULT '';

-- SQLite cannot change a CHECK constraint in place: the outbox is rebuilt (nothing references it).
CREATE TABLE outbox_new (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    event TEXT NOT NULL CHECK (event IN ('booking_confirmed', 'booking_changed', 'booking_cancelled',
                                         'reminder', 'slot_closed', 'ivr_sms')),
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
    recipient BLOB,                                    -- encrypted: the number an IVR SMS goes to
    body TEXT NOT NULL DEFAULT '',                     -- an IVR SMS's text as staff wrote it (no personal data)
    did TEXT NOT NULL DEFAULT '',                      -- the line whose flow sent it (IVR SMS counts per line)
    CHECK (event <> 'ivr_sms' OR recipient IS NOT NULL)
);
INSERT INTO outbox_new (id, created_at, event, booking_id, channel, idempotency_key, status, attempts,
                        next_attempt_at, claimed_at, resends, last_error, sent_at, gateway_id, segments,
                        receipt, receipt_at)
    SELECT id, created_at, event, booking_id, channel, idempotency_key, status, attempts, next_attempt_at,
           claimed_at, resends, last_error, sent_at, gateway_id, segments, receipt, receipt_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_booking ON outbox (booking_id);
CREATE INDEX outbox_by_sent ON outbox (sent_at);
