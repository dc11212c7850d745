-- A student's hint ladder and pending quiz question, as JSON, keyed by the browser's
-- pseudonymous session id: any app replica continues the conversation (tutor/pedagogy/sessions.py).
CREATE TABLE IF NOT EXISTS student_sessions (
    session_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS student_sessions_updated ON student_sessions(updated);
