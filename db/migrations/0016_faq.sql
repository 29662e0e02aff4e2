-- The FAQ knowledge base (issue 16): categories, entries with their other phrasings, what to bring and
-- the official source, public (the citizens' FAQ too) or internal (operators only), draft / published /
-- withdrawn, every saved version kept; each use of an entry in an answer; what citizens searched for
-- and did not find (proposals for new entries).

CREATE TABLE faq_category (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE CHECK (length(key) BETWEEN 1 AND 40 AND key NOT GLOB '*[^a-z0-9-]*'),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
    sort_order INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE faq_entry (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE CHECK (length(key) BETWEEN 1 AND 60 AND key NOT GLOB '*[^a-z0-9-]*'),
    category_id INTEGER NOT NULL REFERENCES faq_category (id),
    question TEXT NOT NULL CHECK (length(question) BETWEEN 1 AND 200),
    answer TEXT NOT NULL CHECK (length(answer) BETWEEN 1 AND 4000),
    phrasings TEXT NOT NULL DEFAULT '',                -- other ways people ask it, one per line
    bring TEXT NOT NULL DEFAULT '',                    -- what to bring to the counter
    source_url TEXT NOT NULL DEFAULT '',               -- the official page the answer rests on
    public INTEGER NOT NULL DEFAULT 1 CHECK (public IN (0, 1)),
    status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'withdrawn')),
    revision INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),  -- a save names the revision it edited
    sort_order INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX faq_entry_category ON faq_entry (category_id, sort_order);

-- every saved version of an entry, whole (JSON), with who saved it and why
CREATE TABLE faq_revision (
    id INTEGER PRIMARY KEY,
    entry_id INTEGER NOT NULL REFERENCES faq_entry (id) ON DELETE CASCADE,
    revision INTEGER NOT NULL,
    content TEXT NOT NULL,
    status TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    saved_by TEXT NOT NULL DEFAULT '',
    comment TEXT NOT NULL DEFAULT '',
    UNIQUE (entry_id, revision)
);

-- an entry used in an answer: by an operator (chosen among the candidates), read by a citizen on the
-- public FAQ, or linked from an IVR's SMS; the monthly report counts them per entry
CREATE TABLE faq_use (
    id INTEGER PRIMARY KEY,
    entry_id INTEGER NOT NULL REFERENCES faq_entry (id),
    used_at TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('operator', 'citizen', 'sms')),
    rank INTEGER,                                      -- the candidate's place when an operator chose it
    used_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX faq_use_entry ON faq_use (entry_id, used_at);
CREATE INDEX faq_use_at ON faq_use (used_at);

-- what a citizen searched for on the public FAQ and did not find (nothing found, or 「この中にない」):
-- the words only, digits masked (no phone or My Number kept), removed after access_log_days
CREATE TABLE faq_search_miss (
    id INTEGER PRIMARY KEY,
    asked_at TEXT NOT NULL,
    query TEXT NOT NULL CHECK (length(query) BETWEEN 1 AND 200),
    found INTEGER NOT NULL DEFAULT 0,                  -- candidates shown (0: nothing found)
    reviewed INTEGER NOT NULL DEFAULT 0 CHECK (reviewed IN (0, 1))
);
CREATE INDEX faq_search_miss_asked ON faq_search_miss (asked_at);
