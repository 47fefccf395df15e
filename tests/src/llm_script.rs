//! Scripted LLM providers for the suite: a real HTTP/1.1 server on 127.0.0.1 that answers each
//! request with the next reply a test queued (a JSON body, or server-sent events split into chunks
//! the test chooses, with pauses, status codes, headers, a cut connection or no answer at all), and
//! records every request (method, path, headers, body) for assertions. One server speaks whatever
//! the queued replies say, so the same type is the scripted OpenAI-compatible server ([`openai`]
//! builds its bodies) and the scripted Anthropic server ([`anthropic`]). Each connection is served
//! on a thread of its own and closed after one answer; the server stops when dropped.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::Value;

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics with the text when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "request body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// How the body of a reply goes out.
#[derive(Clone, Debug)]
enum Body {
    /// With `Content-Length`, in one write.
    Whole(Vec<u8>),
    /// `Transfer-Encoding: chunked`, one HTTP chunk per piece, each flushed and followed by
    /// `pause`; `cut_after`: the connection is closed after that many pieces, without the final
    /// chunk (a stream cut midway).
    Pieces {
        pieces: Vec<Vec<u8>>,
        pause: Duration,
        cut_after: Option<usize>,
    },
}

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
    /// Waited before the status line is sent.
    delay: Duration,
    /// Never answer; hold the connection open until the server is dropped.
    hang: bool,
}

impl Reply {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Body::Whole(body.to_string().into_bytes()),
            delay: Duration::ZERO,
            hang: false,
        }
    }

    /// 200 with `text/event-stream`, each string one chunk as written (include the `data: ` and
    /// blank lines; see [`openai::sse`] and [`anthropic::sse`]).
    pub fn sse(pieces: Vec<String>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            body: Body::Pieces {
                pieces: pieces.into_iter().map(String::into_bytes).collect(),
                pause: Duration::from_millis(5),
                cut_after: None,
            },
            delay: Duration::ZERO,
            hang: false,
        }
    }

    /// A reply that never comes: the connection stays open and silent.
    pub fn hang() -> Reply {
        Reply {
            hang: true,
            ..Reply::json(200, Value::Null)
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Waits `d` before answering.
    pub fn delay(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }

    /// Re-splits the body into pieces of `n` bytes (anywhere: inside a line, between `\r` and `\n`,
    /// inside a UTF-8 sequence), each sent as its own chunk.
    pub fn split_every(mut self, n: usize) -> Reply {
        let all: Vec<u8> = match &self.body {
            Body::Whole(b) => b.clone(),
            Body::Pieces { pieces, .. } => pieces.concat(),
        };
        let (pause, cut_after) = match &self.body {
            Body::Pieces {
                pause, cut_after, ..
            } => (*pause, *cut_after),
            Body::Whole(_) => (Duration::from_millis(5), None),
        };
        self.body = Body::Pieces {
            pieces: all.chunks(n.max(1)).map(<[u8]>::to_vec).collect(),
            pause,
            cut_after,
        };
        self
    }

    /// The pause after each piece of a streamed body.
    pub fn pause(mut self, d: Duration) -> Reply {
        if let Body::Pieces { pause, .. } = &mut self.body {
            *pause = d;
        }
        self
    }

    /// Closes the connection after `n` pieces, without ending the chunked body.
    pub fn cut_after(mut self, n: usize) -> Reply {
        if let Body::Pieces { cut_after, .. } = &mut self.body {
            *cut_after = Some(n);
        }
        self
    }
}

#[derive(Default)]
struct State {
    replies: VecDeque<Reply>,
    requests: Vec<Recorded>,
    /// Streamed replies the client stopped reading (a write failed before the end).
    abandoned: usize,
}

/// The scripted server. Without a queued reply it answers 500 `{"error":{"message":"no reply
/// scripted"}}`.
pub struct ScriptedLlm {
    port: u16,
    state: Arc<(Mutex<State>, Condvar)>,
    stop: Arc<AtomicBool>,
}

impl ScriptedLlm {
    pub fn start() -> ScriptedLlm {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        let state: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (st, stopping) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = conn else { continue };
                let (st, stopping) = (st.clone(), stopping.clone());
                std::thread::spawn(move || serve(stream, &st, &stopping));
            }
        });
        ScriptedLlm { port, state, stop }
    }

    /// Queues the answer to the next request not yet answered.
    pub fn push(&self, reply: Reply) -> &Self {
        self.state.0.lock().unwrap().replies.push_back(reply);
        self
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.0.lock().unwrap().requests.clone()
    }

    /// Replies queued and not yet used.
    pub fn pending(&self) -> usize {
        self.state.0.lock().unwrap().replies.len()
    }

    /// Streamed replies whose client closed the connection before the end (a cancelled call).
    pub fn abandoned(&self) -> usize {
        self.state.0.lock().unwrap().abandoned
    }
}

impl Drop for ScriptedLlm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes hanging replies and the blocking accept.
        self.state.1.notify_all();
        let _ = TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], self.port)),
            Duration::from_secs(1),
        );
    }
}

fn serve(mut stream: TcpStream, state: &(Mutex<State>, Condvar), stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(req) = read_request(&mut stream) else {
        return;
    };
    let reply = {
        let mut s = state.0.lock().unwrap();
        s.requests.push(req);
        s.replies.pop_front()
    };
    let reply = reply.unwrap_or_else(|| {
        Reply::json(
            500,
            serde_json::json!({"error": {"message": "no reply scripted"}}),
        )
    });
    if reply.hang {
        let mut s = state.0.lock().unwrap();
        while !stop.load(Ordering::SeqCst) {
            s = state.1.wait(s).unwrap();
        }
        return;
    }
    if !reply.delay.is_zero() {
        // tidy:allow-sleep: the scripted provider is slow on purpose (timeouts, retries)
        std::thread::sleep(reply.delay);
    }
    let mut head = format!("HTTP/1.1 {} Scripted\r\n", reply.status);
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("connection: close\r\n");
    match reply.body {
        Body::Whole(b) => {
            head.push_str(&format!("content-length: {}\r\n\r\n", b.len()));
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&b);
        }
        Body::Pieces {
            pieces,
            pause,
            cut_after,
        } => {
            head.push_str("transfer-encoding: chunked\r\n\r\n");
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            let _ = stream.flush();
            for (i, p) in pieces.iter().enumerate() {
                if cut_after == Some(i) {
                    let _ = stream.shutdown(Shutdown::Both);
                    return;
                }
                let mut chunk = format!("{:x}\r\n", p.len()).into_bytes();
                chunk.extend_from_slice(p);
                chunk.extend_from_slice(b"\r\n");
                if stream
                    .write_all(&chunk)
                    .and_then(|()| stream.flush())
                    .is_err()
                {
                    state.0.lock().unwrap().abandoned += 1;
                    return;
                }
                if !pause.is_zero() {
                    // tidy:allow-sleep: pieces of a scripted stream arrive apart, as a model's tokens do
                    std::thread::sleep(pause);
                }
            }
            if cut_after.is_some() {
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            let _ = stream.write_all(b"0\r\n\r\n");
        }
    }
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
}

fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}

/// Bodies in the OpenAI chat completions format.
pub mod openai {
    use serde_json::{Value, json};

    /// A whole answer with text.
    pub fn text(content: &str, input: u32, output: u32) -> Value {
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "scripted",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output},
        })
    }

    /// A whole answer asking for tool calls: `(id, name, arguments as JSON text)`.
    pub fn tool_calls(calls: &[(&str, &str, &str)], input: u32, output: u32) -> Value {
        let calls: Vec<Value> = calls
            .iter()
            .map(|(id, name, args)| json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}}))
            .collect();
        json!({
            "id": "chatcmpl-2", "object": "chat.completion", "model": "scripted",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": calls}, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output},
        })
    }

    /// One `data:` event.
    pub fn event(v: &Value) -> String {
        format!("data: {v}\n\n")
    }

    /// A chunk carrying a text delta.
    pub fn delta(text: &str) -> String {
        event(
            &json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]}),
        )
    }

    /// A chunk carrying a piece of tool call `index` (id and name on its first piece).
    pub fn tool_delta(index: u32, id: Option<&str>, name: Option<&str>, args: &str) -> String {
        let mut f = json!({"arguments": args});
        if let Some(n) = name {
            f["name"] = json!(n);
        }
        let mut c = json!({"index": index, "function": f});
        if let Some(id) = id {
            c["id"] = json!(id);
            c["type"] = json!("function");
        }
        event(
            &json!({"choices": [{"index": 0, "delta": {"tool_calls": [c]}, "finish_reason": null}]}),
        )
    }

    pub fn finish(reason: &str) -> String {
        event(&json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}))
    }

    /// The final usage chunk (`stream_options.include_usage`).
    pub fn usage(input: u32, output: u32) -> String {
        event(
            &json!({"choices": [], "usage": {"prompt_tokens": input, "completion_tokens": output}}),
        )
    }

    pub fn done() -> String {
        "data: [DONE]\n\n".into()
    }

    /// A whole streamed text answer: deltas, finish, usage, `[DONE]`.
    pub fn sse(pieces: &[&str], input: u32, output: u32) -> Vec<String> {
        let mut v: Vec<String> = pieces.iter().map(|p| delta(p)).collect();
        v.push(finish("stop"));
        v.push(usage(input, output));
        v.push(done());
        v
    }
}

/// Bodies in the Anthropic messages format.
pub mod anthropic {
    use serde_json::{Value, json};

    /// A whole answer with text.
    pub fn text(content: &str, input: u32, output: u32) -> Value {
        json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "scripted",
            "content": [{"type": "text", "text": content}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": input, "output_tokens": output},
        })
    }

    /// A whole answer with a `tool_use` block.
    pub fn tool_use(id: &str, name: &str, input_json: Value, input: u32, output: u32) -> Value {
        json!({
            "id": "msg_2", "type": "message", "role": "assistant", "model": "scripted",
            "content": [{"type": "tool_use", "id": id, "name": name, "input": input_json}],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": input, "output_tokens": output},
        })
    }

    /// One named event.
    pub fn event(name: &str, v: &Value) -> String {
        format!("event: {name}\ndata: {v}\n\n")
    }

    pub fn message_start(input: u32) -> String {
        event(
            "message_start",
            &json!({"type": "message_start", "message": {"id": "msg_s", "type": "message", "role": "assistant", "content": [], "model": "scripted", "usage": {"input_tokens": input, "output_tokens": 1}}}),
        )
    }

    pub fn text_start(index: u32) -> String {
        event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
        )
    }

    pub fn text_delta(index: u32, text: &str) -> String {
        event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}),
        )
    }

    pub fn tool_start(index: u32, id: &str, name: &str) -> String {
        event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
        )
    }

    pub fn json_delta(index: u32, partial: &str) -> String {
        event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": partial}}),
        )
    }

    pub fn block_stop(index: u32) -> String {
        event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        )
    }

    pub fn message_delta(stop_reason: &str, output: u32) -> String {
        event(
            "message_delta",
            &json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": {"output_tokens": output}}),
        )
    }

    pub fn message_stop() -> String {
        event("message_stop", &json!({"type": "message_stop"}))
    }

    /// A whole streamed text answer.
    pub fn sse(pieces: &[&str], input: u32, output: u32) -> Vec<String> {
        let mut v = vec![message_start(input), text_start(0)];
        v.extend(pieces.iter().map(|p| text_delta(0, p)));
        v.push(block_stop(0));
        v.push(message_delta("end_turn", output));
        v.push(message_stop());
        v
    }
}
