//! `grep`: lines matching a regular expression in the text files at or under a path. Files are
//! matched after redaction (a pattern cannot probe a secret's value), binary and large files are
//! skipped, and the walk is `list`'s (no symlinks followed, opaque directories skipped).

use std::io::Read;
use std::path::Path;

use super::jail::{open, resolve};
use super::list::walk;
use super::read::env_like;
use super::{EntryKind, Error, GrepMatch, MAX_DEPTH, MAX_LINE_CHARS, MAX_MATCHES, redact};

/// Larger files are not searched (minified bundles, data dumps).
const MAX_FILE_BYTES: u64 = 1 << 20;
/// Most files one search opens.
const MAX_FILES: usize = 10_000;

pub fn grep(
    root: &Path,
    pattern: &str,
    path: &str,
    max_matches: u32,
) -> Result<Vec<GrepMatch>, Error> {
    let re = regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| Error::Invalid(format!("pattern {pattern:?}: {e}")))?;
    let max = match max_matches {
        0 => MAX_MATCHES,
        n => n.min(MAX_MATCHES),
    } as usize;
    let r = resolve(root, path)?;
    let mut out = Vec::new();
    if r.real.is_file() {
        search(root, &re, &r.rel, &r.real, max, &mut out);
        return Ok(out);
    }
    if !r.real.is_dir() {
        return Err(Error::Invalid(format!("{path} is not a file or directory")));
    }
    let mut files = 0;
    // Stops the walk early once enough was found; not an error.
    let enough = Error::TooLarge(String::new());
    let walked = walk(&r.real, &r.rel, MAX_DEPTH, &mut |entry, real| {
        if entry.kind != EntryKind::File || entry.size > MAX_FILE_BYTES {
            return Ok(());
        }
        files += 1;
        if files > MAX_FILES {
            return Err(enough.clone());
        }
        search(root, &re, &entry.path, real, max, &mut out);
        if out.len() >= max {
            return Err(enough.clone());
        }
        Ok(())
    });
    match walked {
        Ok(()) => Ok(out),
        Err(e) if e == enough => Ok(out),
        Err(e) => Err(e),
    }
}

/// Appends the matches in one file, if it is text (and still inside the root when opened).
fn search(
    root: &Path,
    re: &regex::Regex,
    rel: &str,
    real: &Path,
    max: usize,
    out: &mut Vec<GrepMatch>,
) {
    let Ok(meta) = std::fs::metadata(real) else {
        return;
    };
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return;
    }
    let Ok(file) = open(root, real, rel) else {
        return;
    };
    let mut bytes = Vec::new();
    if file.take(MAX_FILE_BYTES).read_to_end(&mut bytes).is_err() {
        return;
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return; // binary
    };
    let text = if env_like(rel, real) {
        redact::redact(&text).0
    } else {
        text
    };
    for (i, line) in text.lines().enumerate() {
        if out.len() >= max {
            return;
        }
        if re.is_match(line) {
            out.push(GrepMatch {
                path: rel.to_string(),
                line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                text: line.chars().take(MAX_LINE_CHARS).collect(),
            });
        }
    }
}
