-- The operator's conversation, transcribed after the call (issue 16): the call's recording read by the
-- recognition service in pieces in the background, the text kept with the record (encrypted) and
-- searched with it; a recording that cannot be read is tried three times, then marked failed.
ALTER TABLE inquiry ADD COLUMN transcript BLOB;
ALTER TABLE inquiry ADD COLUMN transcript_state TEXT NOT NULL DEFAULT ''
    CHECK (transcript_state IN ('', 'done', 'failed'));
ALTER TABLE inquiry ADD COLUMN transcript_tries INTEGER NOT NULL DEFAULT 0;
