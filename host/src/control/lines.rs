//! Splitting a byte stream into request lines with a bounded buffer. A line longer than the limit is
//! reported as soon as the limit is passed; the rest of it, up to its newline, is then read and thrown
//! away without being stored, so memory per connection never exceeds the limit whatever a client sends.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// What the next read produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, without its `\n` (a `\r` before it is left for the parser).
    Line(Vec<u8>),
    /// A line passed the limit; what follows up to its newline will be discarded.
    TooLong,
    /// The peer closed its side (a last line without newline is returned as a `Line` first).
    Eof,
}

pub struct LineReader<R> {
    inner: R,
    max: usize,
    buf: Vec<u8>,
    /// Inside an over-long line: drop bytes until the next newline.
    discarding: bool,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner,
            max,
            buf: Vec::new(),
            discarding: false,
        }
    }

    /// The next frame. Cancel-safe in the sense that matters here: bytes already consumed stay in
    /// `buf`, so a cancelled call loses nothing (callers close the connection anyway).
    pub async fn next(&mut self) -> std::io::Result<Frame> {
        loop {
            let chunk = self.inner.fill_buf().await?;
            if chunk.is_empty() {
                self.discarding = false;
                if self.buf.is_empty() {
                    return Ok(Frame::Eof);
                }
                return Ok(Frame::Line(std::mem::take(&mut self.buf)));
            }
            let newline = memchr::memchr(b'\n', chunk);
            let take = newline.map_or(chunk.len(), |i| i + 1);
            if self.discarding {
                self.inner.consume(take);
                if newline.is_some() {
                    self.discarding = false;
                }
                continue;
            }
            let body = newline.unwrap_or(chunk.len());
            if self.buf.len() + body > self.max {
                // Too long: forget what was kept and skip to the newline (maybe in this very chunk).
                self.buf = Vec::new();
                self.discarding = newline.is_none();
                self.inner.consume(take);
                return Ok(Frame::TooLong);
            }
            self.buf.extend_from_slice(&chunk[..body]);
            self.inner.consume(take);
            if newline.is_some() {
                return Ok(Frame::Line(std::mem::take(&mut self.buf)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames(input: &[u8], max: usize, cap: usize) -> Vec<Frame> {
        // A small read buffer so lines span many chunks.
        let reader = tokio::io::BufReader::with_capacity(cap, input);
        let mut r = LineReader::new(reader, max);
        let mut out = Vec::new();
        loop {
            let f = r.next().await.unwrap();
            let eof = f == Frame::Eof;
            out.push(f);
            if eof {
                return out;
            }
        }
    }

    fn line(s: &str) -> Frame {
        Frame::Line(s.as_bytes().to_vec())
    }

    #[tokio::test]
    async fn splits_lines_across_chunks() {
        for cap in [1, 3, 8, 1024] {
            assert_eq!(
                frames(b"status\r\nstart web\n\nlast", 64, cap).await,
                vec![
                    line("status\r"),
                    line("start web"),
                    line(""),
                    line("last"),
                    Frame::Eof
                ],
                "cap {cap}"
            );
        }
    }

    #[tokio::test]
    async fn over_long_lines_are_reported_once_and_skipped() {
        let mut input = b"ok1\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100_000));
        input.extend(b"\nok2\n");
        input.extend(std::iter::repeat_n(b'y', 11));
        input.extend(b"\nok3\n0123456789\n");
        for cap in [1, 7, 4096, 1 << 20] {
            assert_eq!(
                frames(&input, 10, cap).await,
                vec![
                    line("ok1"),
                    Frame::TooLong,
                    line("ok2"),
                    Frame::TooLong,
                    line("ok3"),
                    line("0123456789"),
                    Frame::Eof
                ],
                "cap {cap}"
            );
        }
    }
}
