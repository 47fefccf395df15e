//! A buffered append-only file with size rotation, shared by service logs and the daemon's `tend.log`.
//! Owns the rotation rules: before a record would push the file past `max_bytes`, `.log.(N-1)` becomes
//! `.log.N`, ..., `.log` becomes `.log.1`, and anything beyond `backup_count` is deleted (`backup_count`
//! 0 truncates in place). It writes whole records; it knows nothing about their format. Files are
//! created 0600 and never opened through a symlink.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const BUFFER_BYTES: usize = 128 * 1024;

pub(crate) struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    backup_count: u32,
    /// Opened on first write, and again after an error dropped it.
    out: Option<BufWriter<File>>,
    /// Bytes in the file including what is still buffered.
    size: u64,
}

impl RotatingFile {
    pub(crate) fn new(path: PathBuf, max_bytes: u64, backup_count: u32) -> RotatingFile {
        RotatingFile {
            path,
            max_bytes,
            backup_count,
            out: None,
            size: 0,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one record made of `parts`, rotating first if it would not fit. A record is never split
    /// across files; one larger than `max_bytes` gets a file of its own.
    pub(crate) fn write_record(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
        let result = self.write_parts(parts, len);
        if result.is_err() {
            // Start over with a fresh handle next time; the size is re-read from the file then.
            self.out = None;
        }
        result
    }

    fn write_parts(&mut self, parts: &[&[u8]], len: u64) -> io::Result<()> {
        if self.out.is_none() {
            self.open(false)?;
        }
        if self.size > 0 && self.size.saturating_add(len) > self.max_bytes {
            self.rotate()?;
        }
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| io::Error::other("log file is not open"))?;
        for part in parts {
            out.write_all(part)?;
        }
        self.size += len;
        Ok(())
    }

    /// Writes the records in `buf`, each ending at the next offset in `ends` (ascending, the last one
    /// `buf.len()`), with the rotation rules of [`write_record`](Self::write_record): as few writes as
    /// the rotations allow, one when none is due.
    pub(crate) fn write_records(&mut self, buf: &[u8], ends: &[usize]) -> io::Result<()> {
        let result = self.write_runs(buf, ends);
        if result.is_err() {
            self.out = None;
        }
        result
    }

    fn write_runs(&mut self, buf: &[u8], ends: &[usize]) -> io::Result<()> {
        let (mut start, mut next) = (0usize, 0usize);
        while next < ends.len() {
            if self.out.is_none() {
                self.open(false)?;
            }
            let room = self.max_bytes.saturating_sub(self.size);
            // The records from `next` on that fit in what is left of this file.
            let mut end = next + ends[next..].partition_point(|&e| (e - start) as u64 <= room);
            if end == next {
                if self.size > 0 {
                    self.rotate()?;
                    continue;
                }
                // Larger than `max_bytes`: a file of its own.
                end = next + 1;
            }
            let stop = ends[end - 1];
            let out = self
                .out
                .as_mut()
                .ok_or_else(|| io::Error::other("log file is not open"))?;
            out.write_all(&buf[start..stop])?;
            self.size += (stop - start) as u64;
            (start, next) = (stop, end);
        }
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match self.out.as_mut().map(BufWriter::flush) {
            Some(Err(e)) => {
                self.out = None;
                Err(e)
            }
            _ => Ok(()),
        }
    }

    fn open(&mut self, truncate: bool) -> io::Result<()> {
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut options = OpenOptions::new();
        if truncate {
            options.write(true).truncate(true);
        } else {
            options.append(true);
        }
        // Never through a symlink: a link planted where a log file goes must not redirect tend's writes.
        let file = options
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.path)?;
        self.size = file.metadata()?.len();
        self.out = Some(BufWriter::with_capacity(BUFFER_BYTES, file));
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        if let Some(mut out) = self.out.take() {
            out.flush()?;
        }
        if self.backup_count == 0 {
            return self.open(true);
        }
        let numbered = |n: u32| {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        // Older files beyond the limit, e.g. left by a larger backup_count before.
        let mut n = self.backup_count;
        while remove_if_exists(&numbered(n))? {
            n += 1;
        }
        for n in (1..self.backup_count).rev() {
            rename_if_exists(&numbered(n), &numbered(n + 1))?;
        }
        rename_if_exists(&self.path, &numbered(1))?;
        self.open(false)
    }
}

fn remove_if_exists(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

fn rename_if_exists(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// For `tracing_appender`: each `write` call is one formatted record.
impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_record(&[buf])?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        RotatingFile::flush(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn record(n: usize) -> Vec<u8> {
        format!("record {n:05}\n").into_bytes() // 13 bytes
    }

    #[test]
    fn rotation_keeps_exactly_backup_count_files_newest_in_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("svc").join("svc.log");
        let mut f = RotatingFile::new(path.clone(), 40, 3);
        for n in 0..100 {
            f.write_record(&[&record(n)]).unwrap();
        }
        f.flush().unwrap();
        let svc = dir.path().join("svc");
        assert_eq!(
            files(&svc),
            ["svc.log", "svc.log.1", "svc.log.2", "svc.log.3"]
        );
        // 3 records fit in 40 bytes; 100 records = 33 full files + 1 record.
        assert_eq!(fs::read(&path).unwrap(), record(99));
        let mut expected = Vec::new();
        for n in 96..99 {
            expected.extend(record(n));
        }
        assert_eq!(fs::read(svc.join("svc.log.1")).unwrap(), expected);
        for name in files(&svc) {
            assert!(fs::metadata(svc.join(name)).unwrap().len() <= 40);
        }
    }

    #[test]
    fn reopening_appends_and_rotates_at_the_right_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let mut f = RotatingFile::new(path.clone(), 30, 1);
        f.write_record(&[&record(0)]).unwrap();
        drop(f);
        let mut f = RotatingFile::new(path.clone(), 30, 1);
        f.write_record(&[&record(1)]).unwrap();
        f.write_record(&[b"x", b"y\n"]).unwrap(); // 29 bytes: still fits
        f.write_record(&[b"z\n"]).unwrap();
        f.flush().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"z\n");
        assert_eq!(
            fs::read(dir.path().join("a.log.1")).unwrap(),
            [record(0), record(1), b"xy\n".to_vec()].concat()
        );
    }

    #[test]
    fn backup_count_zero_truncates_in_place_and_extra_old_files_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        for n in 1..=4 {
            fs::write(dir.path().join(format!("a.log.{n}")), "old").unwrap();
        }
        let mut f = RotatingFile::new(path.clone(), 20, 2);
        for n in 0..6 {
            f.write_record(&[&record(n)]).unwrap();
        }
        f.flush().unwrap();
        assert_eq!(files(dir.path()), ["a.log", "a.log.1", "a.log.2"]);

        let mut f = RotatingFile::new(dir.path().join("b.log"), 20, 0);
        for n in 0..5 {
            f.write_record(&[&record(n)]).unwrap();
        }
        f.flush().unwrap();
        assert_eq!(fs::read(dir.path().join("b.log")).unwrap(), record(4));
        assert!(!dir.path().join("b.log.1").exists());
    }

    #[test]
    fn oversized_record_gets_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let mut f = RotatingFile::new(path.clone(), 10, 1);
        let big = vec![b'z'; 25];
        f.write_record(&[&big]).unwrap();
        f.write_record(&[b"small\n"]).unwrap();
        f.flush().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"small\n");
        assert_eq!(fs::read(dir.path().join("a.log.1")).unwrap(), big);
    }
}
