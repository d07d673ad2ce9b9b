//! A fault-injecting HTTP/1.1 proxy for the integration tests. It listens on
//! 127.0.0.1 inside the test process and forwards each request to a real
//! Swift proxy. As configured at run time, it returns 503 or 401 itself,
//! delays requests, resets or truncates bodies, pauses in the middle of a
//! body, or stops listening altogether and comes back on the same port.
//!
//! Every connection carries one request: the proxy sends `Connection: close`
//! both ways, so a fault never leaves a half-read answer on a connection that
//! the client would reuse. Which requests get the fault is decided by a
//! seeded pseudo-random sequence over the eligible requests, so a run with
//! the same order of requests injects the same faults.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The tempauth proxy that `scripts/swift-up` starts.
pub const SWIFT_TEMPAUTH_PROXY: &str = "127.0.0.1:8080";

/// Maximum wait for a peer to send or accept data, so that a test that goes
/// wrong ends its connection threads instead of leaking them.
const IO_TIMEOUT: Duration = Duration::from_secs(120);

/// Largest request or response head, in bytes.
const MAX_HEAD: usize = 64 * 1024;

/// What happens to a request chosen for a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A `503 Service Unavailable` from the proxy itself, without
    /// forwarding, with a `Retry-After` of that many seconds when given.
    Unavailable { retry_after: Option<u32> },
    /// A `401 Unauthorized` from the proxy itself, without forwarding, as
    /// Swift returns for an expired or revoked token.
    Unauthorized,
    /// Forward, pass on the response head and `bytes` bytes of the body,
    /// then reset the connection (RST).
    ResetAfter { bytes: u64 },
    /// Forward, pass on the response head with its full `Content-Length`
    /// and `bytes` bytes of the body, then close the connection (FIN).
    TruncateAfter { bytes: u64 },
    /// Forward, pass on the response head and `bytes` bytes of the body,
    /// wait `pause`, then send the rest.
    PauseAfter { bytes: u64, pause: Duration },
}

/// The fault configuration, replaced at run time by `FaultProxy::set_faults`.
#[derive(Clone, Debug)]
pub struct Faults {
    /// The fault to inject; `None` forwards every request untouched.
    pub fault: Option<Fault>,
    /// Share of the eligible requests that get `fault`, in percent.
    pub percent: u32,
    /// Only requests whose target (path and query) contains this string are
    /// eligible; an empty string makes every request eligible.
    pub path_contains: String,
    /// The same request (method, target and `Range`) gets the fault at most
    /// this many times in a row; 0 sets no limit. A client that retries at
    /// least this often then always gets through.
    pub max_in_a_row: u32,
    /// Wait before handling each request, faulted or not.
    pub delay: Duration,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            fault: None,
            percent: 0,
            path_contains: String::new(),
            max_in_a_row: 0,
            delay: Duration::ZERO,
        }
    }
}

/// A running proxy. Dropping it closes the port and every connection.
pub struct FaultProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    upstream: String,
    faults: Mutex<Faults>,
    /// The listening socket; `None` while stopped.
    listener: Mutex<Option<TcpListener>>,
    /// Open client connections by id, so that `stop` can cut them.
    connections: Mutex<HashMap<u64, TcpStream>>,
    /// Faults injected in a row per request key.
    in_a_row: Mutex<HashMap<String, u32>>,
    /// Increased by every `stop`, so that delays in progress end early.
    stops: AtomicU64,
    closed: AtomicBool,
    next_connection: AtomicU64,
    requests: AtomicU64,
    eligible: AtomicU64,
    faults_injected: AtomicU64,
    seed: u64,
}

impl FaultProxy {
    /// Starts a proxy on a free port of 127.0.0.1 in front of
    /// `SWIFT_TEMPAUTH_PROXY`.
    pub fn start() -> FaultProxy {
        FaultProxy::start_in_front_of(SWIFT_TEMPAUTH_PROXY)
    }

    /// Starts a proxy on a free port of 127.0.0.1 in front of `upstream`
    /// (`host:port`).
    pub fn start_in_front_of(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            faults: Mutex::new(Faults::default()),
            listener: Mutex::new(Some(listener)),
            connections: Mutex::new(HashMap::new()),
            in_a_row: Mutex::new(HashMap::new()),
            stops: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            next_connection: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            eligible: AtomicU64::new(0),
            faults_injected: AtomicU64::new(0),
            seed: 0x5eed_f00d_0000_0006,
        });
        let acceptor_shared = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name("fault-proxy-accept".into())
            .spawn(move || accept_loop(&acceptor_shared))
            .unwrap();
        FaultProxy {
            address,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// `http://127.0.0.1:<port>/v1/<account>`, for `OS_STORAGE_URL`.
    pub fn storage_url(&self, account: &str) -> String {
        format!("http://{}/v1/{account}", self.address)
    }

    /// Replaces the fault configuration; requests already being handled keep
    /// the one they started with.
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap() = faults;
        self.shared.in_a_row.lock().unwrap().clear();
    }

    /// Forwards every request untouched from now on.
    pub fn clear_faults(&self) {
        self.set_faults(Faults::default());
    }

    /// Requests received so far, faulted or not.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Faults injected so far. A body fault counts only when the body was
    /// longer than its cut-off point.
    pub fn faults_injected(&self) -> u64 {
        self.shared.faults_injected.load(Ordering::SeqCst)
    }

    /// Closes the port, so that new connections are refused, and cuts every
    /// open connection.
    pub fn stop(&self) {
        self.shared.listener.lock().unwrap().take();
        self.shared.stops.fetch_add(1, Ordering::SeqCst);
        for (_, stream) in self.shared.connections.lock().unwrap().drain() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Listens on the same port again after `stop`.
    pub fn resume(&self) {
        let listener = TcpListener::bind(self.address).expect("bind the fault proxy again");
        listener.set_nonblocking(true).unwrap();
        *self.shared.listener.lock().unwrap() = Some(listener);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.stop();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Accepts connections until the proxy is dropped. The listener is
/// non-blocking and polled, so that `stop` can close it at any time.
fn accept_loop(shared: &Arc<Shared>) {
    while !shared.closed.load(Ordering::SeqCst) {
        let accepted = match shared.listener.lock().unwrap().as_ref() {
            Some(listener) => listener.accept().map(Some),
            None => Ok(None),
        };
        match accepted {
            Ok(Some((stream, _))) => {
                let shared = shared.clone();
                std::thread::spawn(move || serve_connection(&shared, stream));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(error) => {
                eprintln!("fault proxy: accept failed: {error}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn serve_connection(shared: &Shared, client: TcpStream) {
    let id = shared.next_connection.fetch_add(1, Ordering::SeqCst);
    if let Ok(clone) = client.try_clone() {
        shared.connections.lock().unwrap().insert(id, clone);
    }
    if let Err(error) = handle_request(shared, client) {
        // Broken connections are what this proxy is for; a test that cares
        // looks at the client's outcome.
        if error.kind() != ErrorKind::BrokenPipe && error.kind() != ErrorKind::ConnectionReset {
            eprintln!("fault proxy: connection {id}: {error}");
        }
    }
    shared.connections.lock().unwrap().remove(&id);
}

/// A parsed request or response head, with its raw header lines kept for
/// forwarding.
struct Head {
    /// The request line or status line, without CRLF.
    start_line: String,
    /// `(name, value)` in their original order and spelling.
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Serializes the head for sending on, with `Connection: close` in
    /// place of the hop-by-hop connection headers.
    fn to_bytes(&self) -> Vec<u8> {
        let mut text = format!("{}\r\n", self.start_line);
        for (name, value) in &self.headers {
            let hop_by_hop = ["connection", "keep-alive", "proxy-connection"]
                .iter()
                .any(|hop| name.eq_ignore_ascii_case(hop));
            if !hop_by_hop {
                text.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        text.push_str("Connection: close\r\n\r\n");
        text.into_bytes()
    }
}

fn read_head(reader: &mut impl BufRead) -> io::Result<Head> {
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let mut line = Vec::new();
        let read = reader.read_until(b'\n', &mut line)?;
        if read == 0 {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                "connection closed inside the head",
            ));
        }
        total += read;
        if total > MAX_HEAD {
            return Err(io::Error::new(ErrorKind::InvalidData, "head too large"));
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        if text.is_empty() {
            break;
        }
        lines.push(text);
    }
    let mut lines = lines.into_iter();
    let start_line = lines
        .next()
        .ok_or_else(|| io::Error::new(ErrorKind::InvalidData, "empty head"))?;
    let headers = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_string(), value.trim().to_string()))
        })
        .collect();
    Ok(Head {
        start_line,
        headers,
    })
}

fn handle_request(shared: &Shared, client: TcpStream) -> io::Result<()> {
    client.set_read_timeout(Some(IO_TIMEOUT))?;
    client.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut client_reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    let request = read_head(&mut client_reader)?;
    shared.requests.fetch_add(1, Ordering::SeqCst);

    let faults = shared.faults.lock().unwrap().clone();
    let stops_before = shared.stops.load(Ordering::SeqCst);
    if !sleep_unless_stopped(shared, faults.delay, stops_before) {
        return Ok(());
    }
    let fault = choose_fault(shared, &faults, &request);
    match fault {
        Some(Fault::Unavailable { retry_after }) => {
            let extra = retry_after
                .map(|seconds| format!("Retry-After: {seconds}\r\n"))
                .unwrap_or_default();
            return answer_locally(shared, &mut client, "503 Service Unavailable", &extra);
        }
        Some(Fault::Unauthorized) => {
            let extra = "Www-Authenticate: Swift realm=\"fault-proxy\"\r\n";
            return answer_locally(shared, &mut client, "401 Unauthorized", extra);
        }
        _ => {}
    }

    let mut upstream = TcpStream::connect(&shared.upstream)?;
    upstream.set_read_timeout(Some(IO_TIMEOUT))?;
    upstream.set_write_timeout(Some(IO_TIMEOUT))?;
    upstream.write_all(&request.to_bytes())?;
    forward_request_body(&request, &mut client_reader, &mut upstream)?;

    let mut upstream_reader = BufReader::new(upstream);
    let response = read_head(&mut upstream_reader)?;
    client.write_all(&response.to_bytes())?;
    relay_body(shared, fault, &mut upstream_reader, client)
}

/// Sleeps for `delay` in short steps; `false` when the proxy was stopped
/// or dropped meanwhile.
fn sleep_unless_stopped(shared: &Shared, delay: Duration, stops_before: u64) -> bool {
    let until = Instant::now() + delay;
    while Instant::now() < until {
        if shared.closed.load(Ordering::SeqCst)
            || shared.stops.load(Ordering::SeqCst) != stops_before
        {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10).min(until - Instant::now()));
    }
    true
}

/// Picks the fault for this request, if any.
fn choose_fault(shared: &Shared, faults: &Faults, request: &Head) -> Option<Fault> {
    let fault = faults.fault?;
    let mut parts = request.start_line.split(' ');
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    if !target.contains(&faults.path_contains) {
        return None;
    }
    let index = shared.eligible.fetch_add(1, Ordering::SeqCst);
    let chosen = pseudo_random(shared.seed, index) % 100 < u64::from(faults.percent);

    let key = format!(
        "{method} {target} {}",
        request.header("range").unwrap_or("")
    );
    let mut in_a_row = shared.in_a_row.lock().unwrap();
    let count = in_a_row.entry(key).or_insert(0);
    if !chosen || (faults.max_in_a_row > 0 && *count >= faults.max_in_a_row) {
        *count = 0;
        return None;
    }
    *count += 1;
    Some(fault)
}

/// SplitMix64 of `seed + index`: a fixed, well-mixed sequence without a
/// random-number crate.
fn pseudo_random(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Writes a short answer of the proxy's own. Its `X-Trans-Id` starts with
/// `tx-fault-`, so that a log line can be traced to the injected fault.
fn answer_locally(
    shared: &Shared,
    client: &mut TcpStream,
    status: &str,
    extra_headers: &str,
) -> io::Result<()> {
    let number = shared.faults_injected.fetch_add(1, Ordering::SeqCst);
    let body = format!("{status} (injected by the fault proxy)\n");
    let answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         X-Trans-Id: tx-fault-{number}\r\n{extra_headers}Connection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(answer.as_bytes())
}

/// Copies the request body: `Content-Length` bytes, or chunks up to and
/// including the last one and its trailers.
fn forward_request_body(
    request: &Head,
    from: &mut BufReader<TcpStream>,
    to: &mut TcpStream,
) -> io::Result<()> {
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return forward_chunked(from, to);
    }
    let length: u64 = request
        .header("content-length")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let copied = io::copy(&mut from.by_ref().take(length), to)?;
    if copied < length {
        return Err(io::Error::new(
            ErrorKind::UnexpectedEof,
            "request body shorter than its Content-Length",
        ));
    }
    Ok(())
}

fn forward_chunked(from: &mut BufReader<TcpStream>, to: &mut TcpStream) -> io::Result<()> {
    loop {
        let mut size_line = Vec::new();
        from.read_until(b'\n', &mut size_line)?;
        to.write_all(&size_line)?;
        let text = String::from_utf8_lossy(&size_line);
        let size_text = text.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size_text, 16)
            .map_err(|_| io::Error::new(ErrorKind::InvalidData, "invalid chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let mut line = Vec::new();
                from.read_until(b'\n', &mut line)?;
                to.write_all(&line)?;
                if line == b"\r\n" || line.is_empty() {
                    return Ok(());
                }
            }
        }
        // The chunk and the CRLF after it.
        io::copy(&mut from.by_ref().take(size + 2), to)?;
    }
}

/// Copies the response body from upstream to the client until upstream
/// closes, applying a body fault.
fn relay_body(
    shared: &Shared,
    fault: Option<Fault>,
    upstream: &mut BufReader<TcpStream>,
    mut client: TcpStream,
) -> io::Result<()> {
    let cut_off = match fault {
        Some(Fault::ResetAfter { bytes })
        | Some(Fault::TruncateAfter { bytes })
        | Some(Fault::PauseAfter { bytes, .. }) => bytes,
        _ => {
            io::copy(upstream, &mut client)?;
            return Ok(());
        }
    };
    io::copy(&mut upstream.by_ref().take(cut_off), &mut client)?;
    let more_to_come = !upstream.fill_buf()?.is_empty();
    if !more_to_come {
        return Ok(());
    }
    shared.faults_injected.fetch_add(1, Ordering::SeqCst);
    match fault {
        Some(Fault::ResetAfter { .. }) => {
            reset_connection(&client);
            Ok(())
        }
        Some(Fault::TruncateAfter { .. }) => {
            client.flush()?;
            client.shutdown(Shutdown::Write)
        }
        Some(Fault::PauseAfter { pause, .. }) => {
            let stops_before = shared.stops.load(Ordering::SeqCst);
            if sleep_unless_stopped(shared, pause, stops_before) {
                io::copy(upstream, &mut client)?;
            }
            Ok(())
        }
        _ => unreachable!("only body faults have a cut-off"),
    }
}

/// Makes the close of `stream` send RST instead of FIN: `SO_LINGER` on with
/// a zero timeout discards unsent data and resets the connection.
fn reset_connection(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is open for the lifetime of `stream`, and the
    // option value is a `linger` of the size passed.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    // The reset goes out when the last descriptor of the socket closes: the
    // handler's, then the clone in `connections`, as the connection ends.
    // Bytes still queued for sending are discarded.
}
