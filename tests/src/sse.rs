//! A minimal Server-Sent Events reader over a blocking HTTP response. A thread parses the stream and
//! hands complete events over a channel, so tests can wait for an event with a deadline.

use std::io::{BufRead, BufReader};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One dispatched event.
#[derive(Clone, Debug, Default)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

impl SseEvent {
    /// The `data` field parsed as JSON (panics with the raw text if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("SSE data is not JSON ({e}): {:?}", self.data))
    }
}

/// An open event stream. Dropping it leaves the reader thread to end when the server closes.
pub struct Sse {
    rx: Receiver<SseEvent>,
}

impl Sse {
    /// Reads the events of an already opened stream (a request the test built itself, e.g. one
    /// authenticated with a session cookie).
    pub fn from_response(resp: reqwest::blocking::Response) -> Sse {
        Sse::new(resp)
    }

    pub(crate) fn new(resp: reqwest::blocking::Response) -> Sse {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(resp);
            let mut cur = SseEvent::default();
            let mut has_data = false;
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let l = line.trim_end_matches(['\r', '\n']);
                if l.is_empty() {
                    if has_data || !cur.event.is_empty() {
                        let ev = std::mem::take(&mut cur);
                        if tx.send(ev).is_err() {
                            return;
                        }
                    }
                    has_data = false;
                    continue;
                }
                if l.starts_with(':') {
                    continue;
                }
                let (field, value) = match l.split_once(':') {
                    Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                    None => (l, ""),
                };
                match field {
                    "event" => cur.event = value.to_string(),
                    "id" => cur.id = Some(value.to_string()),
                    "data" => {
                        if has_data {
                            cur.data.push('\n');
                        }
                        cur.data.push_str(value);
                        has_data = true;
                    }
                    _ => {}
                }
            }
        });
        Sse { rx }
    }

    /// The next event, or `None` when none arrives within `timeout` or the stream ended.
    pub fn next(&self, timeout: Duration) -> Option<SseEvent> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// Skips events until one satisfies `pred`. The error lists every event seen on the way.
    pub fn wait_for(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&SseEvent) -> bool,
    ) -> Result<SseEvent, String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(ev) if pred(&ev) => return Ok(ev),
                Ok(ev) => seen.push(format!("{}: {}", ev.event, ev.data)),
                Err(e) => {
                    return Err(format!(
                        "no matching SSE event ({e:?}); saw {} others:\n{}",
                        seen.len(),
                        seen.join("\n")
                    ));
                }
            }
        }
    }
}
