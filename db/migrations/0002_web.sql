-- The web sites: server-side sessions, rate-limit counters, and the public notice banner.

-- Sessions are looked up by the SHA-256 of the cookie's token, so the table alone cannot be replayed.
CREATE TABLE web_session (
    token_hash TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    expires_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX web_session_expiry ON web_session (expires_at);

-- Fixed-window counters; key is a purpose plus a keyed hash (never a raw address or phone number).
CREATE TABLE rate_limit (
    key TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
) WITHOUT ROWID;

-- The banner staff set on the public site (one row; empty text shows nothing).
CREATE TABLE site_notice (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    text TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);
INSERT INTO site_notice (id, text, updated_at) VALUES (1, '', '1970-01-01T00:00:00+00:00');
