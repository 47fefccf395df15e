//! Tests of the whole pipeline: real pipes, a real SQLite file.
