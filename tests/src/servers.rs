//! Real loopback servers run by the test itself, in a thread: a tiny HTTP server whose status code
//! the test controls, and a TCP listener that records every connection made to it (to prove that
//! none was). Both stop when dropped.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A loopback port that was free a moment ago (bound to port 0, then released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// The accept loop shared by both servers: `handle` gets every connection until the owner drops.
struct Acceptor {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Acceptor {
    fn start(mut handle: impl FnMut(TcpStream, SocketAddr) + Send + 'static) -> Acceptor {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = conn {
                    let peer = stream
                        .peer_addr()
                        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
                    handle(stream, peer);
                }
            }
        });
        Acceptor {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A minimal HTTP/1.1 server on 127.0.0.1: answers every request with the current status and a short
/// body, `Connection: close`, and records each request line (`GET /path HTTP/1.1`).
pub struct HttpServer {
    acceptor: Acceptor,
    status: Arc<AtomicU16>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl HttpServer {
    pub fn start(status: u16) -> HttpServer {
        let status = Arc::new(AtomicU16::new(status));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (st, reqs) = (status.clone(), requests.clone());
        let acceptor = Acceptor::start(move |mut stream, _| {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
            let Some(head) = read_head(&mut stream) else {
                return;
            };
            let line = head.lines().next().unwrap_or_default().to_string();
            reqs.lock().unwrap().push(line);
            let code = st.load(Ordering::SeqCst);
            let body = format!("status {code}\n");
            let resp = format!(
                "HTTP/1.1 {code} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(resp.as_bytes());
            let _ = stream.flush();
            let _ = stream.shutdown(Shutdown::Both);
        });
        HttpServer {
            acceptor,
            status,
            requests,
        }
    }

    pub fn port(&self) -> u16 {
        self.acceptor.addr.port()
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }

    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Request lines received so far, oldest first.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Reads up to the end of the request head (or 16 KiB, or a timeout).
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    (!buf.is_empty()).then(|| String::from_utf8_lossy(&buf).into_owned())
}

/// A TCP listener on 127.0.0.1 that accepts and records every connection, then closes it (or, when
/// `holding`, keeps it open and silent until the listener is dropped: a hung service).
pub struct RecordingListener {
    acceptor: Acceptor,
    peers: Arc<Mutex<Vec<SocketAddr>>>,
}

impl RecordingListener {
    pub fn start() -> RecordingListener {
        RecordingListener::new(false)
    }

    /// Accepts but never answers nor closes: every request to it hangs.
    pub fn holding() -> RecordingListener {
        RecordingListener::new(true)
    }

    fn new(hold: bool) -> RecordingListener {
        let peers = Arc::new(Mutex::new(Vec::new()));
        let seen = peers.clone();
        let mut held = Vec::new();
        let acceptor = Acceptor::start(move |stream, peer| {
            seen.lock().unwrap().push(peer);
            if hold {
                held.push(stream);
            }
        });
        RecordingListener { acceptor, peers }
    }

    pub fn port(&self) -> u16 {
        self.acceptor.addr.port()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.peers.lock().unwrap().len()
    }
}
