-- What the phone says, edited by staff (db/prompts.py): one row per prompt key ("booking.greeting") that
-- differs from its default in db/prompts.toml; no row means the default. Placeholders like {day} are
-- filled by the flow when the prompt is said.
CREATE TABLE prompt_text (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE CHECK (key GLOB '[a-z]*.[a-z]*' AND length(key) <= 100),
    text TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 400),
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);
