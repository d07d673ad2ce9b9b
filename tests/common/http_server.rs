//! A small HTTP/1.1 server on 127.0.0.1 for tests that need a fake identity
//! service, a decoy Swift endpoint, or a recording proxy in front of a real
//! service. It serves one request per connection (`Connection: close`) on a
//! thread per connection, records every request, and reads request bodies
//! by `Content-Length` only (reqwest, the only client here, sends no chunked
//! bodies).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a connection may take to send its request, so that a stuck
/// client cannot keep a server thread forever.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// One received request.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The path with its query string, as sent (`/v2.0/tokens`).
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// Returns the first header called `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The target without its query string.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The body parsed as JSON, or `None` when it is not JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// The response a handler returns.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// An empty response with `status`.
    pub fn status(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn json(status: u16, body: &serde_json::Value) -> Response {
        Response::text(status, "application/json", &body.to_string())
    }

    pub fn text(status: u16, content_type: &str, body: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".to_string(), content_type.to_string())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// A running server. Dropping it stops accepting connections.
pub struct TestServer {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server on a free port that responds to every request with
    /// `handler`.
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a test server");
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Handler = Arc::new(handler);

        let thread = {
            let received = received.clone();
            let stop = stop.clone();
            std::thread::spawn(move || accept_loop(listener, handler, received, stop))
        };
        TestServer {
            addr,
            received,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Request> {
        self.received.lock().unwrap().clone()
    }

    /// Number of requests received so far.
    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// Number of requests received so far with `method` and `path`.
    pub fn count_of(&self, method: &str, path: &str) -> usize {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|request| request.method == method && request.path() == path)
            .count()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept so that the loop sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    handler: Handler,
    received: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let handler = handler.clone();
        let received = received.clone();
        std::thread::spawn(move || serve_connection(stream, &handler, &received));
    }
}

fn serve_connection(stream: TcpStream, handler: &Handler, received: &Mutex<Vec<Request>>) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let mut reader = BufReader::new(stream);
    let Some(request) = read_request(&mut reader) else {
        return;
    };
    received.lock().unwrap().push(request.clone());
    let response = handler(&request);
    let _ = write_response(reader.get_mut(), &request, &response);
}

/// Reads one request, or returns `None` when the connection closed or sent
/// garbage.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();

    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let length = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}

/// Writes `response`. A `Content-Length` from the handler is kept (a
/// forwarded `HEAD` response carries the object's length but no body);
/// otherwise it is the body's length.
fn write_response(
    stream: &mut TcpStream,
    request: &Request,
    response: &Response,
) -> std::io::Result<()> {
    let reason = reqwest::StatusCode::from_u16(response.status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("Unknown");
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", response.status);
    let mut has_length = false;
    for (name, value) in &response.headers {
        has_length |= name.eq_ignore_ascii_case("content-length");
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !has_length {
        head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    if request.method != "HEAD" {
        stream.write_all(&response.body)?;
    }
    stream.flush()
}

/// Headers a proxy must not copy: those about one connection, and `Host`
/// and `Content-Length`, which the outgoing client sets for its own request.
const NOT_FORWARDED: [&str; 5] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "host",
    "content-length",
];

fn forwarding_client() -> &'static reqwest::blocking::Client {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap()
    })
}

/// Sends `request` to the same target on `upstream` (`http://host:port`) and
/// returns the upstream's response, for handlers that proxy a real service.
/// A transport failure becomes a 502.
pub fn forward(request: &Request, upstream: &str) -> Response {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap();
    let mut outgoing = forwarding_client()
        .request(method, format!("{upstream}{}", request.target))
        .body(request.body.clone());
    for (name, value) in &request.headers {
        if !NOT_FORWARDED.contains(&name.to_ascii_lowercase().as_str()) {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = match outgoing.send() {
        Ok(answer) => answer,
        Err(error) => return Response::text(502, "text/plain", &error.to_string()),
    };

    let status = answer.status().as_u16();
    let keep_length = request.method == "HEAD";
    let headers = answer
        .headers()
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            (keep_length && name == "content-length") || !NOT_FORWARDED.contains(&name)
        })
        .map(|(name, value)| {
            (
                name.to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = answer
        .bytes()
        .map(|bytes| bytes.to_vec())
        .unwrap_or_default();
    Response {
        status,
        headers,
        body,
    }
}

/// A port that accepts TCP connections (the kernel completes the handshake
/// into the listen backlog) but never reads or responds: a server that hangs.
pub struct SilentServer {
    listener: TcpListener,
}

impl SilentServer {
    pub fn start() -> SilentServer {
        SilentServer {
            listener: TcpListener::bind("127.0.0.1:0").expect("bind a silent server"),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.listener.local_addr().unwrap())
    }
}
