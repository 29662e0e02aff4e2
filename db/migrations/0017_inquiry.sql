-- The inquiry record book (問い合わせ記録簿, issue 16): one record per contact (a call put through to an
-- operator opens one by itself), the FAQ entries its answer used, and escalations to the city's
-- groups with their due times and replies. Personal data only encrypted, and purged by the policy.

CREATE TABLE inquiry (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL CHECK (channel IN ('phone', 'counter', 'email', 'letter', 'other')),
    received_at TEXT NOT NULL,                         -- the contact began (a call: when it came in)
    answered_at TEXT,                                  -- an operator took it (a call: put through)
    talk_ended_at TEXT,                                -- the conversation ended (a call: hung up)
    completed_at TEXT,                                 -- the record was finished: after-call work ends
    did TEXT NOT NULL DEFAULT '',                      -- the line a call came in on
    call_id INTEGER REFERENCES call_record (id) ON DELETE SET NULL,
    target TEXT NOT NULL DEFAULT '',                   -- the staff phone (transfer target) it was put through to
    topic TEXT NOT NULL DEFAULT '',                    -- an FAQ category's key; '' is その他
    summary BLOB,                                      -- encrypted: what was asked
    answer BLOB,                                       -- encrypted: what was answered
    caller_name BLOB,                                  -- encrypted: only when the city must call back
    caller_phone BLOB,
    booking_number TEXT NOT NULL DEFAULT '',           -- a booking made or looked at on the caller's behalf
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'escalated', 'closed')),
    first_contact INTEGER NOT NULL DEFAULT 0 CHECK (first_contact IN (0, 1)),  -- resolved at first contact
    revision INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),  -- a save names the revision it edited
    created_by TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX inquiry_received ON inquiry (received_at);
CREATE INDEX inquiry_open ON inquiry (status, target);
CREATE UNIQUE INDEX inquiry_one_per_call ON inquiry (call_id) WHERE call_id IS NOT NULL;

CREATE TABLE inquiry_faq (
    inquiry_id INTEGER NOT NULL REFERENCES inquiry (id) ON DELETE CASCADE,
    entry_id INTEGER NOT NULL REFERENCES faq_entry (id),
    PRIMARY KEY (inquiry_id, entry_id)
);

CREATE TABLE escalation (
    id INTEGER PRIMARY KEY,
    inquiry_id INTEGER NOT NULL REFERENCES inquiry (id),
    group_name TEXT NOT NULL,
    note BLOB,                                         -- encrypted: what the operator asks of the group
    escalated_at TEXT NOT NULL,
    escalated_by TEXT NOT NULL DEFAULT '',
    due_at TEXT NOT NULL,                              -- escalation_hours of business hours later
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'closed')),
    reply BLOB,                                        -- encrypted: the group's answer
    replied_at TEXT,
    replied_by TEXT NOT NULL DEFAULT '',
    closed_at TEXT,
    closed_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX escalation_open ON escalation (status, due_at);
CREATE UNIQUE INDEX escalation_one_open ON escalation (inquiry_id) WHERE status != 'closed';
