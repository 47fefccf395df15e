//! The precompiled built-ins appended to the `tend` executable after it is linked (as node's single
//! executable applications carry a payload), so a daemon never runs Cranelift for them. Owns the
//! payload's layout (reading, writing, removing it); it does not compile (`aot`) nor load code
//! (`cache`).
//!
//! Layout, after the linked executable's own bytes:
//! `[code of entry 0][pad][code of entry 1]...[index: JSON][trailer]`. Every entry starts at a
//! multiple of `ALIGN` (a page), so a mapping could start at it. The trailer is the last
//! `TRAILER_LEN` bytes: `MAGIC`, then, little-endian u64s, the executable's length without the
//! payload, the index's offset and its length. The index lists, per entry, the built-in's name,
//! the sha256 of its wasm, the engine key (`cache::engine_key`) it was compiled for, offset and length.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 8] = b"TENDAOT1";
const TRAILER_LEN: u64 = 32;
/// Page size on every target tend supports (x86_64, aarch64 with 4 KiB pages); 64 KiB would
/// also serve 64 KiB-page kernels, at 8 x 60 KiB of padding.
const ALIGN: u64 = 4096;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub wasm_sha256: String,
    /// `cache::engine_key` of the engine that compiled it.
    pub engine: String,
    pub offset: u64,
    pub len: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Index {
    pub entries: Vec<Entry>,
}

struct Trailer {
    original_len: u64,
    index_offset: u64,
    index_len: u64,
}

fn read_trailer(file: &File) -> io::Result<Option<Trailer>> {
    let len = file.metadata()?.len();
    if len < TRAILER_LEN {
        return Ok(None);
    }
    let mut buf = [0u8; TRAILER_LEN as usize];
    file.read_exact_at(&mut buf, len - TRAILER_LEN)?;
    if &buf[..8] != MAGIC {
        return Ok(None);
    }
    let word = |i: usize| u64::from_le_bytes(buf[i..i + 8].try_into().expect("8 bytes"));
    let t = Trailer {
        original_len: word(8),
        index_offset: word(16),
        index_len: word(24),
    };
    let fits = t.original_len <= t.index_offset
        && t.index_offset.checked_add(t.index_len) == Some(len - TRAILER_LEN);
    if !fits {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "payload trailer does not match the file's length",
        ));
    }
    Ok(Some(t))
}

/// The payload's index in `file`, `None` when it carries none.
pub fn read_index(file: &File) -> io::Result<Option<Index>> {
    let Some(t) = read_trailer(file)? else {
        return Ok(None);
    };
    let mut json = vec![0u8; usize::try_from(t.index_len).map_err(io::Error::other)?];
    file.read_exact_at(&mut json, t.index_offset)?;
    let index: Index = serde_json::from_slice(&json)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("payload index: {e}")))?;
    for e in &index.entries {
        if e.offset < t.original_len || e.offset.saturating_add(e.len) > t.index_offset {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("payload entry {} lies outside the payload", e.name),
            ));
        }
    }
    Ok(Some(index))
}

/// The length of `file` without its payload (its whole length when it has none).
pub fn original_len(file: &File) -> io::Result<u64> {
    match read_trailer(file)? {
        Some(t) => Ok(t.original_len),
        None => Ok(file.metadata()?.len()),
    }
}

/// Removes the payload of the executable at `path`, in place (same inode); true when it had one.
pub fn remove(path: &Path) -> io::Result<bool> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    match read_trailer(&file)? {
        Some(t) => {
            file.set_len(t.original_len)?;
            file.sync_all()?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Replaces the payload of the executable at `path` (in place: cargo hard-links `target/*/tend`
/// to its `deps/` copy, and a new inode would be lost at its next uplift) with `entries`:
/// (name, wasm sha256, engine key, serialized code).
pub fn write(path: &Path, entries: &[(String, String, String, Vec<u8>)]) -> io::Result<()> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let original = original_len(&file)?;
    file.set_len(original)?;
    let mut index = Index::default();
    let mut at = original;
    file.seek(SeekFrom::Start(at))?;
    for (name, sha, engine, code) in entries {
        let start = at.next_multiple_of(ALIGN);
        file.write_all(&vec![0u8; (start - at) as usize])?;
        file.write_all(code)?;
        index.entries.push(Entry {
            name: name.clone(),
            wasm_sha256: sha.clone(),
            engine: engine.clone(),
            offset: start,
            len: code.len() as u64,
        });
        at = start + code.len() as u64;
    }
    let json = serde_json::to_vec(&index).map_err(io::Error::other)?;
    file.write_all(&json)?;
    let mut trailer = Vec::with_capacity(TRAILER_LEN as usize);
    trailer.extend_from_slice(MAGIC);
    for word in [original, at, json.len() as u64] {
        trailer.extend_from_slice(&word.to_le_bytes());
    }
    file.write_all(&trailer)?;
    file.sync_all()
}

/// One entry's bytes.
pub fn read_entry(file: &File, entry: &Entry) -> io::Result<Vec<u8>> {
    let mut bytes = vec![0u8; usize::try_from(entry.len).map_err(io::Error::other)?];
    file.read_exact_at(&mut bytes, entry.offset)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_replaces_and_remove_restores_the_original_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exe");
        std::fs::write(&path, b"ELF and code").unwrap();
        let entry = |n: &str, code: &[u8]| {
            (
                n.to_string(),
                format!("sha-{n}"),
                "e1".to_string(),
                code.to_vec(),
            )
        };
        write(&path, &[entry("a", b"AAAA"), entry("b", b"BB")]).unwrap();
        write(&path, &[entry("a", b"AAAA"), entry("b", b"BBB")]).unwrap();
        let file = File::open(&path).unwrap();
        let index = read_index(&file).unwrap().unwrap();
        assert_eq!(index.entries.len(), 2);
        assert_eq!(index.entries[0].offset % ALIGN, 0);
        assert_eq!(read_entry(&file, &index.entries[1]).unwrap(), b"BBB");
        assert_eq!(original_len(&file).unwrap(), 12);
        assert!(remove(&path).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"ELF and code");
        assert!(!remove(&path).unwrap());
        assert!(read_index(&File::open(&path).unwrap()).unwrap().is_none());
    }
}
