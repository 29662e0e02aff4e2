-- What kind of call it was (billed apart: AI speech, key-press IVR), recorded when the call starts:
-- a line's flow may change later, the bill follows what the call was.
ALTER TABLE call_record ADD COLUMN kind TEXT NOT NULL DEFAULT 'ivr' CHECK (kind IN ('ai', 'ivr'));
-- Calls before this version: the demo's echo flow was the only one that recognised speech.
UPDATE call_record SET kind = 'ai' WHERE did IN (SELECT did FROM phone_line WHERE flow = 'echo');
