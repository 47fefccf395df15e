//! Server-sent events as providers send them: bytes in chunks split anywhere (inside a line, between
//! `\r` and `\n`, inside a UTF-8 sequence), `\n`, `\r\n` or `\r` line ends, `:` comment lines
//! (keep-alives), `event:` names, multi-line `data:`. Pure; no I/O. One non-standard field is kept:
//! llama.cpp's server reports a failure mid-stream as an `error: {...}` line, which the standard would
//! ignore; here it becomes an event named `error`, so the failure is not mistaken for a quiet end.

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name, if any.
    pub event: Option<String>,
    /// The `data:` lines joined by `\n`.
    pub data: String,
}

/// Longest line accepted: a provider's event carries a chunk of text, never megabytes.
const MAX_LINE: usize = 4 << 20;

#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the current, unfinished line.
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` starting the next one belongs to that line end.
    after_cr: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseParser {
    /// Feeds a chunk; returns the events it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, String> {
        let mut out = Vec::new();
        for &b in chunk {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' => self.end_line(&mut out)?,
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut out)?;
                }
                _ => {
                    if self.line.len() >= MAX_LINE {
                        return Err(format!("an event line is longer than {MAX_LINE} bytes"));
                    }
                    self.line.push(b);
                }
            }
        }
        Ok(out)
    }

    /// The end of the body: a last line without its line end, and an event without its blank line,
    /// are taken as complete (a cut event then fails where its data is parsed).
    pub fn finish(&mut self) -> Result<Vec<SseEvent>, String> {
        let mut out = Vec::new();
        if !self.line.is_empty() {
            self.end_line(&mut out)?;
        }
        self.dispatch(&mut out);
        Ok(out)
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) -> Result<(), String> {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let line = String::from_utf8(line).map_err(|_| "an event line is not UTF-8".to_string())?;
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_str(), ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_string()),
            "error" => {
                // llama.cpp: `error: {...}` on a line of its own, with or without a blank line after.
                self.dispatch(out);
                out.push(SseEvent {
                    event: Some("error".into()),
                    data: value.to_string(),
                });
            }
            _ => {} // `id`, `retry` and unknown fields: nothing a completion needs.
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if !self.has_data {
            return;
        }
        self.has_data = false;
        out.push(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::default();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(p.push(c).unwrap());
        }
        out.extend(p.finish().unwrap());
        out
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(Into::into),
            data: data.into(),
        }
    }

    #[test]
    fn events_survive_any_split() {
        let body = b": keep-alive\r\nevent: message_start\r\ndata: {\"a\":1}\r\n\r\ndata: x\ndata: y\n\n:c\rdata: [DONE]\r\r";
        let want = vec![
            ev(Some("message_start"), "{\"a\":1}"),
            ev(None, "x\ny"),
            ev(None, "[DONE]"),
        ];
        assert_eq!(all(&[body]), want);
        for i in 0..body.len() {
            assert_eq!(all(&[&body[..i], &body[i..]]), want, "split at {i}");
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(all(&bytes), want);
    }

    #[test]
    fn a_last_event_without_its_blank_line_is_kept() {
        assert_eq!(all(&[b"data: [DONE]"]), vec![ev(None, "[DONE]")]);
        assert_eq!(all(&[b"data: [DONE]\n"]), vec![ev(None, "[DONE]")]);
    }

    #[test]
    fn llama_cpp_error_lines_become_error_events() {
        assert_eq!(
            all(&[b"data: {\"x\":1}\n\nerror: {\"message\":\"boom\"}\n\n"]),
            vec![
                ev(None, "{\"x\":1}"),
                ev(Some("error"), "{\"message\":\"boom\"}")
            ]
        );
    }

    #[test]
    fn comments_and_empty_events_dispatch_nothing() {
        assert_eq!(all(&[b": ping\n\nevent: ping\n\n\n\n"]), vec![]);
    }

    #[test]
    fn a_split_utf8_sequence_is_joined() {
        let body = "data: h\u{e9}llo\n\n".as_bytes();
        assert_eq!(all(&[&body[..8], &body[8..]]), vec![ev(None, "h\u{e9}llo")]);
    }
}
