-- Log lines are stored in chunks: one row per batch of lines of one service and stream read at one
-- time, instead of one row per line. Every line keeps its own id: a chunk holds the lines
-- first_id ..= last_id (last_id = first_id + lines - 1), and chunks never overlap.
--
-- text: the lines in order, each followed by a line feed (a line never holds one itself).
-- partials: the positions (0-based, comma-separated) of the lines that are partial pieces of a longer
-- line; NULL when there are none.
-- A chunk holds at most 4096 lines (MAX_CHUNK_LINES in host/src/store/logs.rs), so queries can bound
-- a scan by id.
CREATE TABLE log_chunks (
    first_id INTEGER PRIMARY KEY,
    last_id  INTEGER NOT NULL,
    service  TEXT NOT NULL,
    stream   TEXT NOT NULL CHECK (stream IN ('stdout', 'stderr')),
    time     TEXT NOT NULL,
    lines    INTEGER NOT NULL CHECK (lines BETWEEN 1 AND 4096 AND last_id = first_id + lines - 1),
    text     TEXT NOT NULL,
    partials TEXT
);
CREATE INDEX log_chunks_service ON log_chunks (service, last_id);

-- The next line id. Ids are never reused, as with the old table's AUTOINCREMENT, so a client that
-- resumes after an id never sees older lines under a new id.
CREATE TABLE log_ids (next INTEGER NOT NULL);
INSERT INTO log_ids (next)
SELECT max(
    coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'logs'), 0),
    coalesce((SELECT max(id) FROM logs), 0)
) + 1;

-- Existing lines: runs of consecutive ids with the same service, stream and time become one chunk
-- (cut every 4096 lines); ids and text are kept as they are.
INSERT INTO log_chunks (first_id, last_id, service, stream, time, lines, text, partials)
SELECT min(id), max(id), service, stream, time, count(*),
       group_concat(line || char(10), '' ORDER BY id),
       group_concat(CASE WHEN partial THEN pos % 4096 END, ',' ORDER BY id)
FROM (
    SELECT id, service, stream, time, line, partial, island,
           row_number() OVER (PARTITION BY service, stream, time, island ORDER BY id) - 1 AS pos
    FROM (
        SELECT id, service, stream, time, line, partial,
               id - row_number() OVER (PARTITION BY service, stream, time ORDER BY id) AS island
        FROM logs
    )
)
GROUP BY service, stream, time, island, pos / 4096;

DROP TABLE logs;
