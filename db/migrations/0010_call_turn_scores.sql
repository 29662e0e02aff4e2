-- What the recogniser's scores of a closed question's expected answers said (voice/nlu/scores.py), for
-- staff reviewing a turn: the best few answers with how much the audio spoke for each. Encrypted as
-- the other texts of a turn (an expected answer may be a venue the caller named, never more).
ALTER TABLE call_turn ADD COLUMN scores BLOB;                 -- encrypted JSON list of [answer, score]
