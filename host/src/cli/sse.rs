//! Incremental parser for Server-Sent Events (the `text/event-stream` format of the WHATWG HTML spec):
//! bytes in, complete events out. Pure: no I/O, so any chunking of the stream can be tested.

/// One dispatched event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, or "message" when the server sent none.
    pub event: String,
    /// All `data:` lines of the event joined with '\n'.
    pub data: String,
    /// The last `id:` seen on the stream so far (ids persist across events, as in the spec).
    pub id: Option<String>,
}

#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the line being received; decoded only once complete so UTF-8 may span chunks.
    line: Vec<u8>,
    /// The previous chunk ended in '\r': a '\n' starting the next one belongs to the same line end.
    after_cr: bool,
    started: bool,
    event: String,
    data: String,
    last_id: Option<String>,
}

impl SseParser {
    /// Consumes a chunk and returns the events it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        for &b in chunk {
            if std::mem::take(&mut self.after_cr) && b == b'\n' {
                continue;
            }
            match b {
                b'\r' | b'\n' => {
                    self.after_cr = b == b'\r';
                    let raw = std::mem::take(&mut self.line);
                    let mut line = String::from_utf8_lossy(&raw).into_owned();
                    if !self.started {
                        self.started = true;
                        if let Some(rest) = line.strip_prefix('\u{feff}') {
                            line = rest.to_string();
                        }
                    }
                    if let Some(event) = self.process_line(&line) {
                        out.push(event);
                    }
                }
                _ => self.line.push(b),
            }
        }
        out
    }

    fn process_line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => self.last_id = Some(value.to_string()),
            _ => {} // `retry` and unknown fields: nothing for a one-shot client to do.
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = std::mem::take(&mut self.event);
        let mut data = std::mem::take(&mut self.data);
        if data.is_empty() {
            return None;
        }
        data.pop();
        Some(SseEvent {
            event: if event.is_empty() {
                "message".into()
            } else {
                event
            },
            data,
            id: self.last_id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::default();
        chunks.iter().flat_map(|c| p.feed(c)).collect()
    }

    fn ev(event: &str, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
            id: id.map(Into::into),
        }
    }

    #[test]
    fn typed_events_with_ids() {
        let got =
            parse_all(&[b"event: log\nid: 7\ndata: {\"a\":1}\n\nevent: log\nid: 8\ndata: x\n\n"]);
        assert_eq!(
            got,
            vec![ev("log", "{\"a\":1}", Some("7")), ev("log", "x", Some("8"))]
        );
    }

    #[test]
    fn multi_line_data_and_comments() {
        let got = parse_all(&[b": keep-alive\n\ndata: one\n: note\ndata:two\ndata\n\n"]);
        assert_eq!(got, vec![ev("message", "one\ntwo\n", None)]);
    }

    #[test]
    fn ids_persist_and_empty_events_are_not_dispatched() {
        let got = parse_all(&[b"id: 1\n\ndata: a\n\nevent: x\n\ndata: b\n\n"]);
        assert_eq!(
            got,
            vec![ev("message", "a", Some("1")), ev("message", "b", Some("1"))]
        );
    }

    #[test]
    fn any_chunking_and_line_ending_gives_the_same_events() {
        let text = "\u{feff}event: log\r\ndata: h\u{e9}llo\r\rdata: z\r\n\r\n";
        let whole = parse_all(&[text.as_bytes()]);
        assert_eq!(
            whole,
            vec![ev("log", "h\u{e9}llo", None), ev("message", "z", None)]
        );
        let bytes: Vec<&[u8]> = text.as_bytes().chunks(1).collect();
        assert_eq!(parse_all(&bytes), whole);
    }

    #[test]
    fn an_unfinished_event_is_held_back() {
        let mut p = SseParser::default();
        assert!(p.feed(b"data: partial").is_empty());
        assert!(p.feed(b"\n").is_empty());
        assert_eq!(p.feed(b"\n"), vec![ev("message", "partial", None)]);
    }
}
