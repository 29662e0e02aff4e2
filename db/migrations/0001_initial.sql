-- The first schema. Capacity rules that must never break are enforced here as well as in the
-- services: a CHECK and a trigger refuse any write that would put a slot over capacity.

CREATE TABLE venue (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE CHECK (slug GLOB '[a-z0-9]*' AND slug NOT GLOB '*[^a-z0-9-]*' AND length(slug) <= 40),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kana TEXT NOT NULL CHECK (length(kana) BETWEEN 1 AND 200),
    address TEXT NOT NULL DEFAULT '',
    access TEXT NOT NULL DEFAULT '',
    sort_order INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

CREATE TABLE slot (
    id INTEGER PRIMARY KEY,
    venue_id INTEGER NOT NULL REFERENCES venue (id),
    date TEXT NOT NULL CHECK (date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
    start TEXT NOT NULL CHECK (start GLOB '[0-2][0-9]:[03]0'),
    capacity INTEGER NOT NULL CHECK (capacity >= 0),
    phone_seats INTEGER NOT NULL DEFAULT 0 CHECK (phone_seats >= 0),
    staff_seats INTEGER NOT NULL DEFAULT 0 CHECK (staff_seats >= 0),
    booked_web INTEGER NOT NULL DEFAULT 0 CHECK (booked_web >= 0),
    booked_phone INTEGER NOT NULL DEFAULT 0 CHECK (booked_phone >= 0),
    booked_staff INTEGER NOT NULL DEFAULT 0 CHECK (booked_staff >= 0),
    booked_over INTEGER NOT NULL DEFAULT 0 CHECK (booked_over >= 0),
    closed INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0, 1)),
    closed_reason TEXT NOT NULL DEFAULT '',
    UNIQUE (venue_id, date, start),
    CHECK (phone_seats + staff_seats <= capacity),
    CHECK (booked_web + booked_phone + booked_staff <= capacity)
);
CREATE INDEX slot_by_date ON slot (date, start);

-- Ordinary bookings may never take the total (admin overrides included) past capacity, and capacity
-- may never be reduced below what is booked. Admin overrides (booked_over) may exceed it.
CREATE TRIGGER slot_no_overbooking BEFORE UPDATE ON slot
WHEN NEW.booked_web + NEW.booked_phone + NEW.booked_staff + NEW.booked_over > NEW.capacity
 AND (NEW.booked_web > OLD.booked_web OR NEW.booked_phone > OLD.booked_phone
      OR NEW.booked_staff > OLD.booked_staff OR NEW.capacity < OLD.capacity)
BEGIN
    SELECT RAISE(ABORT, 'slot over capacity');
END;

-- Slot dates are Asia/Tokyo calendar dates; times are local wall-clock times.
CREATE TABLE reception_window (
    id INTEGER PRIMARY KEY,
    venue_id INTEGER UNIQUE REFERENCES venue (id),
    opens_days_before INTEGER NOT NULL CHECK (opens_days_before >= 0),
    opens_time TEXT NOT NULL CHECK (opens_time GLOB '[0-2][0-9]:[0-5][0-9]'),
    closes_days_before INTEGER NOT NULL CHECK (closes_days_before >= 0),
    closes_time TEXT NOT NULL CHECK (closes_time GLOB '[0-2][0-9]:[0-5][0-9]'),
    CHECK (opens_days_before > closes_days_before
           OR (opens_days_before = closes_days_before AND opens_time < closes_time))
);
CREATE UNIQUE INDEX reception_window_one_default ON reception_window ((venue_id IS NULL)) WHERE venue_id IS NULL;
-- The default for every venue: from 60 days before at 09:00 until 19:30 the day before.
INSERT INTO reception_window (venue_id, opens_days_before, opens_time, closes_days_before, closes_time)
VALUES (NULL, 60, '09:00', 1, '19:30');

CREATE TABLE booking (
    id INTEGER PRIMARY KEY,
    number TEXT NOT NULL UNIQUE CHECK (number GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
    slot_id INTEGER NOT NULL REFERENCES slot (id),
    status TEXT NOT NULL CHECK (status IN ('confirmed', 'cancelled', 'attended', 'no_show')),
    channel TEXT NOT NULL CHECK (channel IN ('web', 'phone', 'staff')),
    counted_as TEXT NOT NULL CHECK (counted_as IN ('web', 'phone', 'staff', 'over')),
    party_size INTEGER NOT NULL DEFAULT 1 CHECK (party_size BETWEEN 1 AND 10),
    -- AES-GCM envelopes (db/crypto.py); NULL once purged
    name BLOB,
    kana BLOB,
    phone BLOB,
    email BLOB,
    birth_date BLOB,
    lookup_token BLOB,
    -- keyed blind indexes: phone look-up, and the "one active booking per person" rule
    phone_index TEXT,
    active_person_key TEXT,
    notify TEXT NOT NULL DEFAULT 'none' CHECK (notify IN ('sms', 'email', 'none')),
    idempotency_key TEXT UNIQUE,
    override_reason TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    cancelled_at TEXT,
    CHECK (status = 'confirmed' OR active_person_key IS NULL),
    CHECK (counted_as = channel OR counted_as = 'over')
);
CREATE UNIQUE INDEX booking_one_active_per_person ON booking (active_person_key) WHERE active_person_key IS NOT NULL;
CREATE INDEX booking_by_slot ON booking (slot_id, status);
CREATE INDEX booking_by_phone ON booking (phone_index);

CREATE TABLE eligibility_question (
    id INTEGER PRIMARY KEY,
    sort_order INTEGER NOT NULL DEFAULT 0,
    text TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 500),
    required INTEGER NOT NULL DEFAULT 1 CHECK (required IN (0, 1)),
    -- shown when a required question is not ticked: what to do instead
    guidance TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

CREATE TABLE staff_user (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL UNIQUE CHECK (login GLOB '[a-z0-9]*' AND login NOT GLOB '*[^a-z0-9._-]*' AND length(login) BETWEEN 2 AND 40),
    display_name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'viewer')),
    password_hash TEXT NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 1 CHECK (must_change_password IN (0, 1)),
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    expires_at TEXT,
    totp_secret BLOB,
    created_at TEXT NOT NULL,
    last_login_at TEXT
);

-- Append-only: who did what, when, from where. details is JSON without personal data.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}',
    source TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_by_object ON audit_log (object_type, object_id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- Messages to send after commit (by `madoguchi worker`), written in the same transaction as their cause.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    event TEXT NOT NULL CHECK (event IN ('booking_confirmed', 'booking_changed', 'booking_cancelled', 'slot_closed')),
    booking_id INTEGER REFERENCES booking (id),
    channel TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    idempotency_key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'dead', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    sent_at TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
