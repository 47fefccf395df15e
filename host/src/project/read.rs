//! `read_file`: the first bytes of a regular file (lossy UTF-8, redacted when it is `.env`-like)
//! and the SHA-256 of all of its bytes, which an edit names as its base.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::jail::{open, resolve};
use super::{Error, File, MAX_READ_BYTES, executable, io_error, redact};

pub fn read(root: &Path, path: &str, max_bytes: u32) -> Result<File, Error> {
    let r = resolve(root, path)?;
    let meta = std::fs::metadata(&r.real).map_err(|e| io_error(path, &e))?;
    if meta.is_dir() {
        return Err(Error::Invalid(format!("{path} is a directory")));
    }
    if !meta.is_file() {
        // A FIFO or a device could block or never end.
        return Err(Error::Invalid(format!("{path} is not a regular file")));
    }
    let cap = match max_bytes {
        0 => MAX_READ_BYTES,
        n => n.min(MAX_READ_BYTES),
    } as usize;
    let mut file = open(root, &r.real, path)?;
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(cap.min(meta.len() as usize));
    let mut size: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error(path, &e)),
        };
        hasher.update(&buf[..n]);
        let keep = (cap - head.len()).min(n);
        head.extend_from_slice(&buf[..keep]);
        size += n as u64;
    }
    let truncated = size > head.len() as u64;
    let (content, binary) = decode(&head, truncated);
    let (content, redacted) = if env_like(&r.rel, &r.real) {
        redact::redact(&content)
    } else {
        (content, false)
    };
    Ok(File {
        path: r.rel,
        content,
        sha256: hex(&hasher.finalize()),
        size,
        truncated,
        redacted,
        binary,
        executable: executable(&meta),
    })
}

/// The bytes as text, and whether they are not UTF-8. A character cut by the cap is not a sign of
/// binary data: it is dropped.
fn decode(head: &[u8], truncated: bool) -> (String, bool) {
    match std::str::from_utf8(head) {
        Ok(s) => (s.to_string(), false),
        Err(e) if truncated && e.error_len().is_none() => {
            let valid = &head[..e.valid_up_to()];
            (String::from_utf8_lossy(valid).into_owned(), false)
        }
        Err(_) => (String::from_utf8_lossy(head).into_owned(), true),
    }
}

/// True when the file's name as asked for, or its real name (behind a symlink), makes it
/// `.env`-like.
pub fn env_like(rel: &str, real: &Path) -> bool {
    redact::is_env_file(rel.rsplit('/').next().unwrap_or(rel))
        || real
            .file_name()
            .is_some_and(|n| redact::is_env_file(&n.to_string_lossy()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
