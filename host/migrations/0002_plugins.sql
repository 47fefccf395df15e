-- Plugins: each plugin's private key-value store (the WIT `kv` interface) ...
CREATE TABLE plugin_kv (
    plugin      TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       BLOB NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (plugin, key)
);

-- ... and the compiled-code cache's ledger: the sha256 of every .cwasm file the daemon wrote itself.
-- A cache file is deserialized (native code!) only when its content hashes to the value recorded here.
CREATE TABLE plugin_cache (
    file        TEXT PRIMARY KEY NOT NULL,
    sha256      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
