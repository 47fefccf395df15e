-- Resource metrics history. One row per sampled target (a service, or a cron job's running executions
-- summed) and time, in three tiers: 0 = raw samples, 1 = one-minute buckets, 2 = fifteen-minute buckets.
-- Figures are averages over the row's `samples` raw samples (weights when buckets are merged), except the
-- *_max columns. Tiers 1 and 2 are rolled up continuously; each tier is pruned at its own retention.
CREATE TABLE metric_samples (
    tier            INTEGER NOT NULL CHECK (tier IN (0, 1, 2)),
    kind            TEXT NOT NULL CHECK (kind IN ('service', 'job')),
    name            TEXT NOT NULL,
    t               INTEGER NOT NULL,   -- Unix ms: the sample's time, or the start of the bucket
    samples         INTEGER NOT NULL,
    cpu_percent     REAL NOT NULL,
    cpu_percent_max REAL NOT NULL,
    rss_bytes       REAL NOT NULL,
    rss_bytes_max   INTEGER NOT NULL,
    processes       REAL NOT NULL,
    threads         REAL NOT NULL,
    open_fds        REAL NOT NULL,
    read_bps        REAL NOT NULL,      -- storage bytes read per second
    write_bps       REAL NOT NULL,
    disk_bytes      INTEGER,            -- latest disk usage of the watch_dirs, when known
    disk_partial    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tier, kind, name, t)
) WITHOUT ROWID;
CREATE INDEX metric_samples_age ON metric_samples (tier, t);
