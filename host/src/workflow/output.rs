//! A step's output: stdout and stderr drained concurrently, cut into lines and merged in the order
//! they arrive, of which only the last `MAX_LINES` lines and `MAX_BYTES` bytes are kept. Knows nothing
//! of processes beyond the pipe ends it is handed; it is the sink (`process::Output`) of a command's
//! `process::Run`.

use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::task::JoinHandle;

use crate::logs::LineSplitter;
use crate::process::Output;

pub const MAX_LINES: usize = 64;
pub const MAX_BYTES: usize = 8 * 1024;

/// The last lines of a merged output.
#[derive(Debug, Default)]
pub struct Tail {
    lines: VecDeque<String>,
    bytes: usize,
}

impl Tail {
    pub fn push(&mut self, line: &[u8]) {
        let mut line = String::from_utf8_lossy(line).into_owned();
        if line.len() > MAX_BYTES {
            let mut cut = line.len() - MAX_BYTES;
            while !line.is_char_boundary(cut) {
                cut += 1;
            }
            line.drain(..cut);
        }
        self.bytes += line.len() + 1;
        self.lines.push_back(line);
        while self.lines.len() > MAX_LINES || self.bytes > MAX_BYTES + 1 {
            match self.lines.pop_front() {
                Some(old) => self.bytes -= old.len() + 1,
                None => break,
            }
        }
    }

    pub fn text(&self) -> String {
        let mut out = String::with_capacity(self.bytes);
        for line in &self.lines {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// The capture of one command's stdout and stderr.
pub struct Capture {
    tail: Arc<Mutex<Tail>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Capture {
    pub fn start(stdout: OwnedFd, stderr: OwnedFd) -> Capture {
        let tail = Arc::new(Mutex::new(Tail::default()));
        let tasks = [stdout, stderr]
            .into_iter()
            .map(|fd| tokio::spawn(drain(fd, tail.clone())))
            .collect();
        Capture { tail, tasks }
    }
}

impl Output for Capture {
    /// The merged tail.
    type Kept = String;

    async fn finish(self, within: Duration) -> String {
        let deadline = tokio::time::Instant::now() + within;
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
            }
        }
        self.tail.lock().unwrap_or_else(|e| e.into_inner()).text()
    }
}

async fn drain(fd: OwnedFd, tail: Arc<Mutex<Tail>>) {
    let mut pipe = match pipe::Receiver::from_owned_fd(fd) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot read a job command's output");
            return;
        }
    };
    let mut splitter = LineSplitter::new(MAX_BYTES);
    let push = |line: &[u8], _partial: bool| {
        tail.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => splitter.feed(&buf[..n], push),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::warn!(error = %e, "reading a job command's output failed");
                break;
            }
        }
    }
    splitter.finish(push);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_within_both_limits() {
        let mut t = Tail::default();
        for i in 0..100 {
            t.push(format!("line {i}").as_bytes());
        }
        let text = t.text();
        assert_eq!(text.lines().count(), MAX_LINES);
        assert!(
            text.starts_with("line 36\n") && text.ends_with("line 99\n"),
            "{text}"
        );

        let mut t = Tail::default();
        for _ in 0..10 {
            t.push(&[b'x'; 1000]);
        }
        t.push(b"last");
        let text = t.text();
        assert!(text.len() <= MAX_BYTES + 1, "{}", text.len());
        assert!(text.ends_with("xxx\nlast\n"));

        let mut t = Tail::default();
        t.push("é".repeat(MAX_BYTES).as_bytes());
        let text = t.text();
        assert!(text.len() <= MAX_BYTES + 1 && text.starts_with('é'));
    }
}
