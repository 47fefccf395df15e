//! A raw-TCP client for the control port: bytes out, lines in, every read under a deadline. It speaks
//! the protocol only as bytes and `serde_json::Value`, like a user with `nc` would.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Daemon;

/// How long one answer may take (a `stop` waits for the whole tree: up to a service's stop timeout).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Control {
    stream: TcpStream,
    /// Bytes read past the last returned line.
    pending: Vec<u8>,
}

impl Control {
    pub fn connect(addr: SocketAddr) -> Control {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("connect to the control port {addr}: {e}"));
        Control {
            stream,
            pending: Vec::new(),
        }
    }

    /// Writes `bytes` as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("write to the control port: {e}"));
    }

    /// The next line (without `\n`), `None` at end of stream; panics after `timeout`.
    pub fn line_within(&mut self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=i).collect();
                return Some(String::from_utf8_lossy(&line[..i]).into_owned());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no complete line within {timeout:?}; got so far: {:?}",
                String::from_utf8_lossy(&self.pending)
            );
            self.stream
                .set_read_timeout(Some(left))
                .expect("set_read_timeout");
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    assert!(
                        self.pending.is_empty(),
                        "stream ended inside a line: {:?}",
                        String::from_utf8_lossy(&self.pending)
                    );
                    return None;
                }
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // A reset after the server closed counts as the end of the stream.
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("read from the control port: {e}"),
            }
        }
    }

    /// The next response, parsed; panics at end of stream, on a timeout or on a line that is not JSON.
    pub fn response(&mut self) -> Value {
        let line = self
            .line_within(ANSWER_TIMEOUT)
            .expect("the control port closed the connection instead of answering");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("response {line:?} is not JSON: {e}"))
    }

    /// Sends `line` and a newline; returns the response.
    pub fn request(&mut self, line: &str) -> Value {
        self.send(format!("{line}\n").as_bytes());
        self.response()
    }

    /// Sends `line`; asserts `{"ok": true}` and returns the response.
    pub fn ok(&mut self, line: &str) -> Value {
        let r = self.request(line);
        assert_eq!(r["ok"], true, "{line:?} answered {r}");
        r
    }

    /// Sends `line`; asserts an error with `code` and returns the error object.
    pub fn error(&mut self, line: &str, code: &str) -> Value {
        let r = self.request(line);
        assert_error(&r, code, line);
        r["error"].clone()
    }

    /// Asserts the server closes the connection within `timeout`, with no further line.
    pub fn assert_closed(&mut self, timeout: Duration) {
        if let Some(line) = self.line_within(timeout) {
            panic!("expected the connection to close, got the line {line:?}");
        }
    }
}

/// Asserts `r` is `{"ok": false, "error": {"code": code, "message": <non-empty>}}`.
pub fn assert_error(r: &Value, code: &str, what: &str) {
    assert_eq!(r["ok"], false, "{what:?} answered {r}");
    assert_eq!(r["error"]["code"], code, "{what:?} answered {r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what:?}: an error has a message: {r}"
    );
}

impl Daemon {
    /// A new connection to this daemon's control port, not yet authenticated.
    pub fn control_conn(&self) -> Control {
        Control::connect(self.control_addr())
    }

    /// A new connection, authenticated with the daemon's token.
    pub fn control_authed(&self) -> Control {
        let mut c = self.control_conn();
        let r = c.ok(&format!("auth {}", self.token()));
        assert_eq!(r["message"], "authenticated", "{r}");
        c
    }
}
