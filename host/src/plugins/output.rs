//! Capture of a guest's stdout and stderr: one bounded in-memory pipe per stream and call. Output
//! beyond the bound is dropped (and counted), never an error: a chatty plugin must not trap for it.
//! After the call, `emit` writes the lines to the daemon's log (target `plugin`, field `plugin`).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Bytes kept per stream and call.
const CAPACITY: usize = 64 * 1024;
/// Longest line written to the log.
const MAX_LINE: usize = 4096;

#[derive(Clone, Default)]
pub struct Capture {
    inner: Arc<Mutex<Captured>>,
}

#[derive(Default)]
struct Captured {
    buf: Vec<u8>,
    dropped: usize,
}

impl Capture {
    fn append(&self, bytes: &[u8]) {
        let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let room = CAPACITY.saturating_sub(c.buf.len());
        let keep = bytes.len().min(room);
        c.buf.extend_from_slice(&bytes[..keep]);
        c.dropped += bytes.len() - keep;
    }

    /// Writes what was captured to the daemon's log, one event per line, and empties the pipe.
    pub fn emit(&self, plugin: &str, stream: &'static str) {
        let Captured { buf, dropped } =
            std::mem::take(&mut *self.inner.lock().unwrap_or_else(|p| p.into_inner()));
        for line in String::from_utf8_lossy(&buf).lines() {
            let line = truncate(line, MAX_LINE);
            tracing::info!(target: "plugin", plugin, stream, "{line}");
        }
        if dropped > 0 {
            tracing::warn!(target: "plugin", plugin, stream, dropped, "plugin output over {CAPACITY} bytes was dropped");
        }
    }

    #[cfg(test)]
    pub fn contents(&self) -> Vec<u8> {
        self.inner.lock().unwrap().buf.clone()
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(CAPACITY)
    }
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_beyond_capacity_is_dropped_not_refused() {
        let mut c = Capture::default();
        c.write(Bytes::from(vec![b'a'; CAPACITY - 1])).unwrap();
        c.write(Bytes::from_static(b"bcd")).unwrap();
        assert_eq!(c.contents().len(), CAPACITY);
        assert_eq!(c.check_write().unwrap(), CAPACITY, "always writable");
        assert_eq!(c.inner.lock().unwrap().dropped, 2);
        c.emit("t", "stdout");
        assert!(c.contents().is_empty(), "emitted output is gone");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
