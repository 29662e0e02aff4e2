-- The staff admin site: single-use TOTP codes, recovery codes, the access log, editable message texts,
-- walk-ins.

-- The TOTP time step last accepted: a code (or an earlier one) is never accepted twice.
ALTER TABLE staff_user ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE staff_user ADD COLUMN password_changed_at TEXT;

-- One-time recovery codes for a lost authenticator: only a keyed hash is stored.
CREATE TABLE recovery_code (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES staff_user (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL UNIQUE,
    used_at TEXT
);
CREATE INDEX recovery_code_by_user ON recovery_code (user_id);

-- Every request to the admin site: who, which function (the Flask endpoint), the answer, from where.
CREATE TABLE access_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL DEFAULT '',
    endpoint TEXT NOT NULL,
    method TEXT NOT NULL,
    status INTEGER NOT NULL,
    source TEXT NOT NULL DEFAULT ''
);
CREATE INDEX access_log_by_time ON access_log (at);
CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN
    SELECT RAISE(ABORT, 'access_log is append-only');
END;

-- SMS and email texts per event, edited by staff; placeholders like {name} are filled when sending.
CREATE TABLE message_text (
    id INTEGER PRIMARY KEY,
    event TEXT NOT NULL CHECK (event IN ('booking_confirmed', 'booking_changed', 'booking_cancelled',
                                         'reminder', 'slot_closed')),
    channel TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    subject TEXT NOT NULL DEFAULT '' CHECK (length(subject) <= 200),
    body TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT '',
    UNIQUE (event, channel)
);

-- A person registered at the counter without a booking (status attended from the start).
ALTER TABLE booking ADD COLUMN walk_in INTEGER NOT NULL DEFAULT 0 CHECK (walk_in IN (0, 1));

-- Requests per hour and site, for the statistics (counted in each web worker, written in batches;
-- nothing about who asked).
CREATE TABLE traffic (
    hour TEXT NOT NULL CHECK (hour GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]'),
    site TEXT NOT NULL CHECK (site IN ('public', 'admin')),
    requests INTEGER NOT NULL CHECK (requests >= 0),
    PRIMARY KEY (hour, site)
) WITHOUT ROWID;
