-- The SQLite schema of the data folder (tutor/store.py applies it at every start).
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    doc_key TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    grade INTEGER,
    lang TEXT NOT NULL DEFAULT '',
    policy TEXT NOT NULL DEFAULT 'reference',
    author TEXT NOT NULL DEFAULT '',
    licence TEXT NOT NULL DEFAULT '',
    translation_of TEXT NOT NULL DEFAULT '',
    source_name TEXT NOT NULL DEFAULT '',
    source_format TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    bundled INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_hash ON documents(content_hash);
CREATE TABLE IF NOT EXISTS versions (
    id INTEGER PRIMARY KEY,
    doc_key TEXT NOT NULL,
    version INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    action TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    -- AUTOINCREMENT: a chunk id is never reused. Without it, replacing the newest document
    -- gives its new chunks the old ids, and the dense index (synced by id) keeps stale vectors.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    text TEXT NOT NULL,
    search_text TEXT NOT NULL,
    section TEXT NOT NULL DEFAULT '',
    page INTEGER,
    slide INTEGER,
    embedding BLOB,
    ocr_confidence REAL  -- mean word confidence (0-1) of the OCR'd page the chunk comes from
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    session TEXT NOT NULL,
    lang TEXT NOT NULL,
    mode TEXT NOT NULL,
    question TEXT NOT NULL,
    answered INTEGER NOT NULL,
    score REAL,
    -- '' for a question the lessons may answer; 'cannot_know' for one about live or private
    -- facts (tomorrow's weather, a phone number): unanswered, yet no gap in the materials
    kind TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    session TEXT NOT NULL,
    rating INTEGER NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    doc_keys TEXT NOT NULL DEFAULT '[]',
    subject TEXT NOT NULL DEFAULT '',
    -- what the comment is about, so the teacher can act on it: the student's question
    -- (PII-redacted) and the answer's sources as JSON [{"doc_key", "title", "where"}]
    question TEXT NOT NULL DEFAULT '',
    sources TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS flags (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    session TEXT NOT NULL,
    category TEXT NOT NULL,
    lang TEXT NOT NULL,
    text TEXT
);
-- Background ingestion of large PDFs. A job's file is kept in <data_dir>/jobs until it is done.
-- Each page batch commits its chunks (staged in job_chunks), its job_pages rows and pages_done
-- in one transaction, so a killed process resumes at pages_done with no page lost or repeated;
-- the document is published from the staged chunks in one transaction at the end.
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    doc_key TEXT NOT NULL,
    source_name TEXT NOT NULL,
    path TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    content_hash TEXT NOT NULL,
    pages_total INTEGER NOT NULL,
    pages_done INTEGER NOT NULL DEFAULT 0,
    -- queued, running, done, failed
    status TEXT NOT NULL DEFAULT 'queued',
    message TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    updated REAL NOT NULL,
    -- seconds spent on the pages done, for the ETA
    busy_s REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS job_pages (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    page INTEGER NOT NULL,
    chunks INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, page)
);
CREATE TABLE IF NOT EXISTS job_chunks (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    search_text TEXT NOT NULL,
    section TEXT NOT NULL DEFAULT '',
    page INTEGER,
    embedding BLOB,
    ocr_confidence REAL
);
CREATE INDEX IF NOT EXISTS job_chunks_job ON job_chunks(job_id);
