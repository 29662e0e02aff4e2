-- The turns of a spoken dialog, for staff to review (対話のログ, 認識失敗の検証): what was asked, heard
-- (with the other hypotheses and the confidence) or pressed, what the dialog made of it, and where the
-- caller's answer is on the recording. Callers say their names, phone numbers and birth dates: every
-- text column is an AES-GCM envelope (db/crypto.py). `corrected` is what staff heard on the recording
-- when the recogniser got it wrong: the marked turns are the evaluation set (`madoguchi voice evaluate`).
-- A turn goes with its call: deleting a call_record row (a purge, an erasure) deletes its turns.
CREATE TABLE call_turn (
    id INTEGER PRIMARY KEY,
    call_id INTEGER NOT NULL REFERENCES call_record (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL CHECK (seq >= 1),          -- 1, 2, ... in the order of the call
    step TEXT NOT NULL,                             -- the question (intent, venue, date, name, ...)
    result TEXT NOT NULL,                           -- understood, nomatch, noinput, repeat, slow, person
    offset_s REAL,                                  -- start of the answer, seconds from the answer of the call
    duration_s REAL,                                -- length of the utterance (NULL for keys and silence)
    confidence REAL,
    prompt BLOB,                                    -- encrypted: what the line said
    heard BLOB,                                     -- encrypted: the best hypothesis
    alternatives BLOB,                              -- encrypted JSON list: the other hypotheses
    keys BLOB,                                      -- encrypted: digits pressed
    understood BLOB,                                -- encrypted: what the dialog made of the answer
    corrected BLOB,                                 -- encrypted: the right text, entered by staff
    corrected_by TEXT NOT NULL DEFAULT '',          -- staff login
    corrected_at TEXT,
    UNIQUE (call_id, seq)
);
CREATE INDEX call_turn_corrected ON call_turn (corrected_at) WHERE corrected_at IS NOT NULL;
