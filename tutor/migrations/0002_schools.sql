-- Schools, classes and teacher accounts; every document, question, rating and flag gets a scope.
-- A document with school_id NULL is in the region library (seen by every class); with a
-- school_id and class_id NULL it is the school's; with both it is one class's.
CREATE TABLE IF NOT EXISTS schools (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS classes (
    id INTEGER PRIMARY KEY,
    school_id INTEGER NOT NULL REFERENCES schools(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    -- the class a student of the school is in until they enter a class code
    is_default INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    UNIQUE (school_id, name)
);
CREATE TABLE IF NOT EXISTS teachers (
    id INTEGER PRIMARY KEY,
    -- NULL for a region admin
    school_id INTEGER REFERENCES schools(id) ON DELETE CASCADE,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'teacher',
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until REAL NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS class_teachers (
    class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
    teacher_id INTEGER NOT NULL REFERENCES teachers(id) ON DELETE CASCADE,
    PRIMARY KEY (class_id, teacher_id)
);
-- Sessions live in the database so that any app replica accepts them; only a hash of the
-- token is stored, so a copy of the database opens no session.
CREATE TABLE IF NOT EXISTS teacher_sessions (
    token_hash TEXT PRIMARY KEY,
    teacher_id INTEGER NOT NULL REFERENCES teachers(id) ON DELETE CASCADE,
    created REAL NOT NULL,
    expires REAL NOT NULL
);
ALTER TABLE documents ADD COLUMN school_id INTEGER;
ALTER TABLE documents ADD COLUMN class_id INTEGER;
CREATE INDEX IF NOT EXISTS documents_scope ON documents(school_id, class_id);
ALTER TABLE questions ADD COLUMN class_id INTEGER;
ALTER TABLE feedback ADD COLUMN class_id INTEGER;
ALTER TABLE flags ADD COLUMN class_id INTEGER;
ALTER TABLE jobs ADD COLUMN school_id INTEGER;
ALTER TABLE jobs ADD COLUMN class_id INTEGER;
