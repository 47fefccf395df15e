//! Request lines to typed requests. Pure: no I/O, no state. Two steps, so the connection can check
//! authentication and `allowed_commands` on the verb before looking at the arguments:
//! [`split_verb`] finds the verb, [`parse_args`] reads its arguments.

use crate::ops::{self, Error};
use crate::spec;
use crate::wire::{ControlRequest, ControlVerb, CustomRestartRequest, MAX_LOG_LINES};

/// Lines `logs` returns without `n` (as the REST default tail).
pub const DEFAULT_LOG_LINES: u32 = 100;

/// Why a line is not a request: always `invalid`, naming what is wrong (`verb`, `arguments`, `name`,
/// `n`, `body` or a field of the JSON), with the same message the REST API gives for the same value.
pub type ParseError = Error;

fn usage(verb: ControlVerb) -> ParseError {
    Error::invalid(
        "arguments",
        format!("wrong number of arguments; usage: {}", verb.usage()),
    )
}

/// The verb of a line and the rest of it (leading blanks removed). `None` for a blank line, which
/// is ignored. The line has no newline; a trailing `\r` is allowed.
pub fn split_verb(line: &str) -> Option<Result<(ControlVerb, &str), ParseError>> {
    let line = line.trim_matches(is_blank);
    if line.is_empty() {
        return None;
    }
    let (word, rest) = line.split_once(is_blank).unwrap_or((line, ""));
    Some(match ControlVerb::parse(word) {
        Some(verb) => Ok((verb, rest.trim_start_matches(is_blank))),
        None => Err(Error::invalid(
            "verb",
            format!(
                "unknown verb {:?}; send `help` for the verbs of this connection",
                clip(word)
            ),
        )),
    })
}

/// The arguments of `verb`, from the rest of its line.
pub fn parse_args(verb: ControlVerb, rest: &str) -> Result<ControlRequest, ParseError> {
    let words: Vec<&str> = rest.split(is_blank).filter(|w| !w.is_empty()).collect();
    let name = |i: usize| -> Result<String, ParseError> {
        let n = words[i];
        spec::validate_name(n).map_err(|e| Error::invalid("name", e.message))?;
        Ok(n.to_string())
    };
    Ok(match verb {
        ControlVerb::Auth => {
            // The token is the rest of the line, so a token with inner blanks still works.
            if rest.is_empty() {
                return Err(usage(verb));
            }
            ControlRequest::Auth {
                token: rest.to_string(),
            }
        }
        ControlVerb::Status => match words.len() {
            0 => ControlRequest::Status { name: None },
            1 => ControlRequest::Status {
                name: Some(name(0)?),
            },
            _ => return Err(usage(verb)),
        },
        ControlVerb::Start | ControlVerb::Stop | ControlVerb::Restart => {
            if words.len() != 1 {
                return Err(usage(verb));
            }
            let name = name(0)?;
            match verb {
                ControlVerb::Start => ControlRequest::Start { name },
                ControlVerb::Stop => ControlRequest::Stop { name },
                _ => ControlRequest::Restart { name },
            }
        }
        ControlVerb::CustomRestart => {
            // `<name> <json>`: the JSON is the rest of the line and may contain blanks.
            let (first, json) = rest.split_once(is_blank).unwrap_or((rest, ""));
            let json = json.trim_matches(is_blank);
            if first.is_empty() || json.is_empty() {
                return Err(usage(verb));
            }
            let name = name(0)?;
            let request = custom_restart_body(json)?;
            ControlRequest::CustomRestart { name, request }
        }
        ControlVerb::Job | ControlVerb::Cancel => {
            let [id] = words[..] else {
                return Err(usage(verb));
            };
            let id = id.to_string();
            if verb == ControlVerb::Job {
                ControlRequest::Job { id }
            } else {
                ControlRequest::Cancel { id }
            }
        }
        ControlVerb::Logs => {
            let n = match words.len() {
                1 => DEFAULT_LOG_LINES,
                2 => match words[1].parse::<u32>() {
                    Ok(n) if n <= MAX_LOG_LINES => n,
                    _ => {
                        return Err(Error::invalid(
                            "n",
                            format!(
                                "expected a number of lines from 0 to {MAX_LOG_LINES}, got {:?}",
                                clip(words[1])
                            ),
                        ));
                    }
                },
                _ => return Err(usage(verb)),
            };
            ControlRequest::Logs { name: name(0)?, n }
        }
        ControlVerb::Shutdown | ControlVerb::Help | ControlVerb::Quit => {
            if !words.is_empty() {
                return Err(usage(verb));
            }
            match verb {
                ControlVerb::Shutdown => ControlRequest::Shutdown,
                ControlVerb::Help => ControlRequest::Help,
                _ => ControlRequest::Quit,
            }
        }
    })
}

/// The JSON of `custom-restart`: parsed as the REST API parses the body of
/// `POST /api/services/{name}/custom-restart`, with the same errors.
fn custom_restart_body(json: &str) -> Result<CustomRestartRequest, ParseError> {
    ops::typed(ops::json(json.as_bytes())?)
}

/// Whether a line is part of an HTTP request rather than of this protocol: a request line
/// (`METHOD SP target SP HTTP/x`, e.g. `GET / HTTP/1.1` or HTTP/2's `PRI * HTTP/2.0`) or a header line
/// (`Name: value`, e.g. `Host: localhost:9901`). No request of this protocol has either shape: verbs are
/// followed by a blank, never by `:`, and none has a third word `HTTP/...`. A browser can send such
/// a request here (a no-cors `POST` from any web page), so the connection closes at once.
pub fn looks_like_http(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let is_tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    if let Some(colon) = line.iter().position(|b| *b == b':')
        && colon > 0
        && line[..colon].iter().all(is_tchar)
    {
        return true;
    }
    let words: Vec<&[u8]> = line
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|w| !w.is_empty())
        .collect();
    match words[..] {
        [method, _target, version] => {
            method.iter().all(is_tchar)
                && version.len() >= 5
                && version[..5].eq_ignore_ascii_case(b"HTTP/")
        }
        _ => false,
    }
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\r'
}

/// A word as echoed in an error: at most 64 characters, so an error line stays short.
fn clip(word: &str) -> String {
    match word.char_indices().nth(64) {
        Some((i, _)) => format!("{}...", &word[..i]),
        None => word.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Code;

    fn parse(line: &str) -> Result<ControlRequest, ParseError> {
        let (verb, rest) = split_verb(line).expect("not blank")?;
        parse_args(verb, rest)
    }

    fn field(line: &str) -> Option<String> {
        parse(line).unwrap_err().field
    }

    #[test]
    fn http_request_and_header_lines_are_recognised() {
        for line in [
            "GET / HTTP/1.1\r",
            "POST /x HTTP/1.0",
            "post /api/x?y=1 http/1.1",
            "PRI * HTTP/2.0\r",
            "OPTIONS * HTTP/1.1",
            "STATUS web HTTP/1.1",
            "Host: 127.0.0.1:9901\r",
            "Content-Type: text/plain",
            "content-length:12",
            "X-Anything: status",
        ] {
            assert!(looks_like_http(line.as_bytes()), "{line:?}");
        }
        for line in [
            "status",
            "status web",
            "start web\r",
            "auth tok:en:with:colons",
            "auth HTTP/1.1",
            "custom-restart web {\"pre\":[{\"command\":\"true\"}]}",
            "logs web 10",
            "",
            ": nothing",
            "help",
        ] {
            assert!(!looks_like_http(line.as_bytes()), "{line:?}");
        }
    }

    #[test]
    fn blank_lines_are_ignored() {
        for line in ["", "   ", "\r", " \t \r"] {
            assert!(split_verb(line).is_none(), "{line:?}");
        }
    }

    #[test]
    fn each_verb_parses() {
        assert_eq!(
            parse("auth abc def\r").unwrap(),
            ControlRequest::Auth {
                token: "abc def".into()
            }
        );
        assert_eq!(
            parse("status").unwrap(),
            ControlRequest::Status { name: None }
        );
        assert_eq!(
            parse("  STATUS   web ").unwrap(),
            ControlRequest::Status {
                name: Some("web".into())
            }
        );
        assert_eq!(
            parse("Start web").unwrap(),
            ControlRequest::Start { name: "web".into() }
        );
        assert_eq!(
            parse("stop\tweb").unwrap(),
            ControlRequest::Stop { name: "web".into() }
        );
        assert_eq!(
            parse("restart web").unwrap(),
            ControlRequest::Restart { name: "web".into() }
        );
        assert_eq!(
            parse("logs web").unwrap(),
            ControlRequest::Logs {
                name: "web".into(),
                n: DEFAULT_LOG_LINES
            }
        );
        assert_eq!(
            parse("logs web 7").unwrap(),
            ControlRequest::Logs {
                name: "web".into(),
                n: 7
            }
        );
        assert_eq!(parse("shutdown").unwrap(), ControlRequest::Shutdown);
        assert_eq!(parse("HELP").unwrap(), ControlRequest::Help);
        assert_eq!(parse("quit\r").unwrap(), ControlRequest::Quit);
        match parse(r#"custom-restart web {"args": ["--fast", "a b"], "pre_commands": []}"#)
            .unwrap()
        {
            ControlRequest::CustomRestart { name, request } => {
                assert_eq!(name, "web");
                assert_eq!(request.args, vec!["--fast".to_string(), "a b".to_string()]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn requests_render_to_lines_that_parse_back() {
        let requests = [
            ControlRequest::Auth {
                token: "t0k".into(),
            },
            ControlRequest::Status { name: None },
            ControlRequest::Status {
                name: Some("web".into()),
            },
            ControlRequest::Stop { name: "web".into() },
            ControlRequest::Logs {
                name: "web".into(),
                n: 3,
            },
            ControlRequest::CustomRestart {
                name: "web".into(),
                request: CustomRestartRequest {
                    args: vec!["x".into()],
                    ..Default::default()
                },
            },
            ControlRequest::Quit,
        ];
        for r in requests {
            assert_eq!(parse(&r.to_line()).unwrap(), r);
        }
    }

    #[test]
    fn wrong_arity_names_the_usage() {
        for line in [
            "auth",
            "start",
            "stop a b",
            "restart",
            "status a b",
            "logs",
            "logs a 1 2",
            "shutdown now",
            "help me",
            "quit 1",
            "custom-restart web",
            "custom-restart",
        ] {
            let e = parse(line).unwrap_err();
            assert_eq!(e.code, Code::Invalid, "{line}");
            assert_eq!(e.field.as_deref(), Some("arguments"), "{line}");
            assert!(e.message.contains("usage:"), "{line}: {}", e.message);
        }
    }

    #[test]
    fn bad_arguments_name_the_field() {
        let e = parse("start Bad/Name").unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (Code::Invalid, Some("name")));
        for line in ["logs web -1", "logs web x", "logs web 10001"] {
            let e = parse(line).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("n"), "{line}");
        }
        let e = parse("custom-restart web {not json").unwrap_err();
        assert!(e.message.contains("malformed JSON"), "{}", e.message);
        assert_eq!(e.field.as_deref(), Some("body"));
        let e = parse("custom-restart web [1]").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("body"), "{}", e.message);
        let e = parse(r#"custom-restart web {"args": "x"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("args"), "{}", e.message);
        let e = parse(r#"custom-restart web {"bogus": 1}"#).unwrap_err();
        assert!(e.message.contains("bogus"), "{}", e.message);
    }

    #[test]
    fn unknown_verbs_are_named_and_clipped() {
        assert_eq!(field("reboot web").as_deref(), Some("verb"));
        let long = "x".repeat(1000);
        let e = parse(&long).unwrap_err();
        assert!(e.message.len() < 200, "{}", e.message);
    }
}
