//! A one-request HTTP server on 127.0.0.1 for the protocol tests. It records
//! the request it receives and writes back a canned response.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;

/// How long the server waits for the client to connect or to send, so that a
/// test whose client never connects fails instead of hanging.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// The request the server received.
pub(crate) struct Recorded {
    /// Such as `POST /v3/auth/tokens HTTP/1.1`.
    pub request_line: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    /// Returns the first header called `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A server thread that responds to one request.
pub(crate) struct FakeServer {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub base_url: String,
    thread: JoinHandle<Recorded>,
}

impl FakeServer {
    /// Starts a server that writes `response` (a whole HTTP response, see
    /// `response`) to the first request and then closes the connection.
    pub fn respond_once(response: String) -> FakeServer {
        let (listener, base_url) = bind();
        let thread = thread::spawn(move || {
            let mut stream = accept(&listener);
            let recorded = read_request(&mut stream);
            stream
                .write_all(response.as_bytes())
                .expect("write the response");
            recorded
        });
        FakeServer { base_url, thread }
    }

    /// Starts a server that reads the request and never responds. Its thread
    /// ends when the client closes the connection or after `WAIT_LIMIT`.
    pub fn silent() -> String {
        let (listener, base_url) = bind();
        thread::spawn(move || {
            let mut stream = accept(&listener);
            let mut buffer = [0_u8; 1024];
            while matches!(stream.read(&mut buffer), Ok(count) if count > 0) {}
        });
        base_url
    }

    /// Waits for the server thread and returns the request it received.
    pub fn request(self) -> Recorded {
        self.thread.join().expect("the fake server thread panicked")
    }
}

/// Builds an HTTP/1.1 response with a `Content-Length` and `Connection: close`.
pub(crate) fn response(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut text = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    text
}

/// Returns a client with the given total timeout that ignores any proxy set
/// in the environment, so that requests reach the fake server directly.
pub(crate) fn client(timeout: Duration) -> Client {
    Client::builder()
        .timeout(timeout)
        .no_proxy()
        .build()
        .expect("build the test HTTP client")
}

fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    (listener, format!("http://127.0.0.1:{port}"))
}

/// Accepts one connection within `WAIT_LIMIT`, polling because a blocking
/// `accept` cannot time out.
fn accept(listener: &TcpListener) -> TcpStream {
    listener
        .set_nonblocking(true)
        .expect("make the listener non-blocking");
    let deadline = Instant::now() + WAIT_LIMIT;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream
                    .set_nonblocking(false)
                    .expect("make the stream blocking");
                stream
                    .set_read_timeout(Some(WAIT_LIMIT))
                    .expect("set a read timeout");
                return stream;
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(error) => panic!("no client connected to the fake server: {error}"),
        }
    }
}

/// Reads the request head and as many body bytes as `Content-Length` gives.
fn read_request(stream: &mut TcpStream) -> Recorded {
    let mut data = Vec::new();
    let mut buffer = [0_u8; 4096];
    let head_end = loop {
        if let Some(index) = find(&data, b"\r\n\r\n") {
            break index;
        }
        let count = stream.read(&mut buffer).expect("read the request head");
        assert!(count > 0, "the client closed the connection mid-request");
        data.extend_from_slice(&buffer[..count]);
    };

    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect();
    let mut recorded = Recorded {
        request_line,
        headers,
        body: String::new(),
    };

    let length: usize = recorded
        .header("Content-Length")
        .map_or(0, |value| value.parse().expect("a numeric Content-Length"));
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        let count = stream.read(&mut buffer).expect("read the request body");
        assert!(count > 0, "the client closed the connection mid-body");
        body.extend_from_slice(&buffer[..count]);
    }
    recorded.body = String::from_utf8(body).expect("a UTF-8 request body");
    recorded
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
