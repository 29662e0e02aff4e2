-- Phone lines (which dialled number runs which flow, with which voice) and the call log.
CREATE TABLE phone_line (
    id INTEGER PRIMARY KEY,
    did TEXT NOT NULL UNIQUE,                      -- the dialled number, digits only
    label TEXT NOT NULL DEFAULT '',
    flow TEXT NOT NULL,                            -- a flow name known to voice.flows
    tts_engine TEXT NOT NULL DEFAULT 'openjtalk',
    tts_voice TEXT NOT NULL DEFAULT '',
    tts_speed REAL NOT NULL DEFAULT 1.0 CHECK (tts_speed BETWEEN 0.5 AND 2.0),
    tts_volume REAL NOT NULL DEFAULT 0.7 CHECK (tts_volume BETWEEN 0.05 AND 1.0),
    record INTEGER NOT NULL DEFAULT 1,
    active INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE call_record (
    id INTEGER PRIMARY KEY,
    sip_call_id TEXT NOT NULL UNIQUE,
    did TEXT NOT NULL,
    caller BLOB,                                   -- encrypted: a phone number is personal data
    caller_index TEXT,                             -- blind index, to find a caller's calls
    worker INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    answered_at TEXT,
    ended_at TEXT,                                 -- NULL while the call is live
    duration_s REAL,
    outcome TEXT NOT NULL DEFAULT '',
    end_reason TEXT NOT NULL DEFAULT '',
    path TEXT NOT NULL DEFAULT '[]',               -- JSON list of the flow's steps
    recording TEXT NOT NULL DEFAULT '',            -- file name under data_dir/recordings
    recording_seconds REAL,
    transcript TEXT NOT NULL DEFAULT ''             -- encrypted JSON lines of what was heard and pressed
);
CREATE INDEX call_record_started ON call_record (started_at);
CREATE INDEX call_record_live ON call_record (ended_at) WHERE ended_at IS NULL;
CREATE INDEX call_record_caller ON call_record (caller_index);
