//! The Swift object client: every request goes through `execute`, which adds
//! the token, repeats the request once after a 401 with a renewed token,
//! retries transient failures with backoff, logs one debug line per attempt
//! and counts it.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use log::{debug, warn};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;

use super::error::{error_chain, SwiftError};
use super::headers::{AccountMeta, ContainerMeta, ObjectMeta};
use super::listing::{self, ListedContainer, ListingEntry};
use super::path::{encode_path, encode_query};
use super::stats::{RequestKind, Stats};
use super::token::TokenManager;

/// How long one attempt may take, and how often and how patiently
/// transient failures are retried. Every request swiftmount sends can be
/// repeated: a PUT resends the whole staged file, POST and COPY set the same
/// state again, and callers treat a 404 after DELETE as deleted.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Maximum time one attempt may take, body included. It is checked as
    /// the body arrives, so an attempt can overrun it by at most one read
    /// timeout (`HttpConfig::read_timeout`).
    pub request_timeout: Duration,
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// No retry starts later than this after the first attempt began, so a
    /// request fails at most this long plus one attempt's timeouts after it
    /// started.
    pub max_time: Duration,
    /// Delay before the first retry; it doubles with each further retry.
    pub first_delay: Duration,
    /// Maximum delay between two attempts before jitter, and the maximum
    /// `Retry-After` that is honoured.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Six attempts, 0.2, 0.4, 0.8, 1.6 and 3.2 s apart (each with up to 50%
    /// random jitter). A request thus rides out at least 6.2 s of refused
    /// connections, such as a Swift proxy restart, and waits at most 9.3 s
    /// in all between its attempts.
    fn default() -> RetryPolicy {
        RetryPolicy {
            request_timeout: Duration::from_secs(60),
            max_attempts: 6,
            max_time: Duration::from_secs(60),
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// Computes the wait before retry number `retry` (0 for the first):
    /// exponential backoff with up to 50% jitter, or the server's
    /// `Retry-After` (capped at `max_delay`) when that is longer.
    fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let base = self
            .first_delay
            .saturating_mul(2u32.saturating_pow(retry.min(16)))
            .min(self.max_delay);
        let backoff = base + base.mul_f64(fastrand::f64() * 0.5);
        match retry_after {
            Some(requested) => backoff.max(requested.min(self.max_delay)),
            None => backoff,
        }
    }
}

/// Reads the wait that a 429 or 503 response requests in `Retry-After`,
/// given as seconds or as an HTTP date. `None` for other statuses and
/// unreadable values.
fn requested_retry_delay(answer: &Answer) -> Option<Duration> {
    if answer.status != StatusCode::TOO_MANY_REQUESTS
        && answer.status != StatusCode::SERVICE_UNAVAILABLE
    {
        return None;
    }
    let value = answer.headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Retry warnings logged per `RETRY_WARNING_WINDOW` at most. The rest go to
/// debug and are counted, so that an outage seen by every thread does not
/// flood the log. The `retries` counter still counts every retry.
const RETRY_WARNINGS_PER_WINDOW: u32 = 10;
const RETRY_WARNING_WINDOW: Duration = Duration::from_secs(60);

/// The retry warnings of the process, shared by every client.
static RETRY_WARNINGS: parking_lot::Mutex<WarningBudget> =
    parking_lot::const_mutex(WarningBudget::new());

/// Rate limit of one kind of warning: a fixed window with a quota.
struct WarningBudget {
    window_start: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

impl WarningBudget {
    const fn new() -> WarningBudget {
        WarningBudget {
            window_start: None,
            logged: 0,
            suppressed: 0,
        }
    }

    /// Decides whether a warning at `now` is logged. `Some(n)` means log it,
    /// mentioning the `n` warnings suppressed since the last logged one;
    /// `None` means suppress it.
    fn admit(&mut self, now: Instant) -> Option<u64> {
        let window_over = self
            .window_start
            .is_none_or(|start| now.duration_since(start) >= RETRY_WARNING_WINDOW);
        if window_over {
            self.window_start = Some(now);
            self.logged = 0;
        }
        if self.logged >= RETRY_WARNINGS_PER_WINDOW {
            self.suppressed += 1;
            return None;
        }
        self.logged += 1;
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// Logs `message` at warn within the budget of `RETRY_WARNINGS`, else at debug.
fn log_retry_warning(message: &str) {
    let admitted = RETRY_WARNINGS.lock().admit(Instant::now());
    match admitted {
        Some(0) => warn!("{message}"),
        Some(suppressed) => {
            warn!("{message} ({suppressed} earlier retry warnings were suppressed)")
        }
        None => debug!("{message}"),
    }
}

/// A response body being received, which fails the copy once the attempt
/// has run past its deadline, so that a body that trickles in without ever
/// pausing for a whole read timeout still ends in time.
struct DeadlineBuffer {
    bytes: Vec<u8>,
    deadline: Instant,
    limit: Duration,
}

impl DeadlineBuffer {
    /// Largest capacity reserved up front from a `Content-Length`, so that a
    /// wrong header cannot make one allocation huge.
    const MAX_RESERVE: u64 = 16 * 1024 * 1024;

    fn new(started: Instant, limit: Duration, content_length: Option<u64>) -> DeadlineBuffer {
        let reserve = content_length.unwrap_or(0).min(Self::MAX_RESERVE) as usize;
        DeadlineBuffer {
            bytes: Vec::with_capacity(reserve),
            deadline: started + limit,
            limit,
        }
    }
}

impl Write for DeadlineBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if Instant::now() > self.deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "request timeout of {} s reached while receiving the body",
                    self.limit.as_secs_f64()
                ),
            ));
        }
        self.bytes.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A fully read response. Bodies are small: listings of at most one page and
/// object ranges of a few MiB, so buffering lets a broken body be retried.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The body of a request.
#[derive(Clone, Debug)]
pub enum RequestBody {
    Empty,
    Bytes(Bytes),
    /// `len` bytes read from a file at `offset`, reopened for each attempt.
    File {
        path: std::path::PathBuf,
        offset: u64,
        len: u64,
    },
}

/// One request, described independently of the storage URL so that it can
/// be sent again with a renewed token.
struct Call<'a> {
    method: Method,
    kind: RequestKind,
    /// Percent-encoded path below the storage URL, starting with `/` or empty.
    url_path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: RequestBody,
    /// The raw `container/object` for logs and errors.
    display: &'a str,
}

pub struct SwiftClient {
    http: reqwest::blocking::Client,
    tokens: Arc<TokenManager>,
    stats: Arc<Stats>,
    retry: RetryPolicy,
}

impl SwiftClient {
    pub fn new(
        http: reqwest::blocking::Client,
        tokens: Arc<TokenManager>,
        retry: RetryPolicy,
    ) -> SwiftClient {
        SwiftClient {
            http,
            tokens,
            stats: Arc::new(Stats::default()),
            retry,
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn tokens(&self) -> &TokenManager {
        &self.tokens
    }

    /// `HEAD` of the account: usage and quota.
    pub fn head_account(&self) -> Result<AccountMeta, SwiftError> {
        let answer = self.execute(&Call {
            method: Method::HEAD,
            kind: RequestKind::Head,
            url_path: String::new(),
            query: String::new(),
            headers: Vec::new(),
            body: RequestBody::Empty,
            display: "(account)",
        })?;
        Ok(AccountMeta::from_headers(&answer.headers))
    }

    /// `HEAD` of a container; `NotFound` when it does not exist.
    pub fn head_container(&self, container: &str) -> Result<ContainerMeta, SwiftError> {
        let answer = self.execute(&Call {
            method: Method::HEAD,
            kind: RequestKind::Head,
            url_path: format!("/{}", encode_path(container)),
            query: String::new(),
            headers: Vec::new(),
            body: RequestBody::Empty,
            display: container,
        })?;
        Ok(ContainerMeta::from_headers(&answer.headers))
    }

    /// `HEAD` of an object; `NotFound` when it does not exist.
    pub fn head_object(&self, container: &str, object: &str) -> Result<ObjectMeta, SwiftError> {
        let display = format!("{container}/{object}");
        let answer = self.execute(&Call {
            method: Method::HEAD,
            kind: RequestKind::Head,
            url_path: object_url_path(container, object),
            query: String::new(),
            headers: Vec::new(),
            body: RequestBody::Empty,
            display: &display,
        })?;
        Ok(ObjectMeta::from_headers(&answer.headers))
    }

    /// Lists one page of the account's containers, after `marker`.
    pub fn list_containers(
        &self,
        marker: &str,
        limit: usize,
    ) -> Result<Vec<ListedContainer>, SwiftError> {
        let query = format!("format=json&limit={limit}&marker={}", encode_query(marker));
        let answer = self.execute(&Call {
            method: Method::GET,
            kind: RequestKind::Listing,
            url_path: String::new(),
            query,
            headers: Vec::new(),
            body: RequestBody::Empty,
            display: "(account)",
        })?;
        if answer.status == StatusCode::NO_CONTENT {
            return Ok(Vec::new());
        }
        listing::parse_containers(&answer.body).map_err(|what| SwiftError::InvalidResponse {
            method: "GET",
            path: "(account listing)".to_string(),
            what,
        })
    }

    /// One page of the objects in `container` whose names start with
    /// `prefix`, after `marker`; with `delimiter`, names that continue past
    /// the next `/` are rolled up into `Subdir` rows.
    pub fn list_objects(
        &self,
        container: &str,
        prefix: &str,
        delimiter: bool,
        marker: &str,
        limit: usize,
    ) -> Result<Vec<ListingEntry>, SwiftError> {
        let mut query = format!(
            "format=json&limit={limit}&prefix={}&marker={}",
            encode_query(prefix),
            encode_query(marker)
        );
        if delimiter {
            query.push_str("&delimiter=%2F");
        }
        let display = format!("{container}/{prefix}");
        let answer = self.execute(&Call {
            method: Method::GET,
            kind: RequestKind::Listing,
            url_path: format!("/{}", encode_path(container)),
            query,
            headers: Vec::new(),
            body: RequestBody::Empty,
            display: &display,
        })?;
        if answer.status == StatusCode::NO_CONTENT {
            return Ok(Vec::new());
        }
        listing::parse_objects(&answer.body).map_err(|what| SwiftError::InvalidResponse {
            method: "GET",
            path: display.clone(),
            what,
        })
    }

    /// Reads bytes `start..end` (end exclusive) of an object. With `if_match`,
    /// Swift answers 412 when the object's ETag has changed, so a reader
    /// never gets bytes of two versions. Returns fewer bytes than asked when
    /// the object ends first, and none when `start` is past its end.
    pub fn get_range(
        &self,
        container: &str,
        object: &str,
        start: u64,
        end: u64,
        if_match: Option<&str>,
    ) -> Result<Bytes, SwiftError> {
        if end <= start {
            return Ok(Bytes::new());
        }
        let display = format!("{container}/{object}");
        let mut headers = vec![("range".to_string(), format!("bytes={}-{}", start, end - 1))];
        if let Some(etag) = if_match {
            headers.push(("if-match".to_string(), format!("\"{etag}\"")));
        }
        let result = self.execute(&Call {
            method: Method::GET,
            kind: RequestKind::Get,
            url_path: object_url_path(container, object),
            query: String::new(),
            headers,
            body: RequestBody::Empty,
            display: &display,
        });
        match result {
            Ok(answer) => {
                // A 200 instead of 206 carries the whole object.
                if answer.status == StatusCode::OK {
                    let from = (start as usize).min(answer.body.len());
                    let to = (end as usize).min(answer.body.len());
                    return Ok(answer.body.slice(from..to));
                }
                Ok(answer.body)
            }
            Err(SwiftError::RangeNotSatisfiable { .. }) => Ok(Bytes::new()),
            Err(error) => Err(error),
        }
    }

    /// Swift's `container_listing_limit` from the cluster's `/info`, which
    /// lives at the root of the storage URL's host. `None` when the cluster
    /// does not publish it.
    pub fn listing_limit(&self) -> Option<usize> {
        let session = self.tokens.session().ok()?;
        let url = reqwest::Url::parse(&session.storage_url).ok()?;
        let info_url = url.join("/info").ok()?;
        let answer = self.http.get(info_url.clone()).send().ok()?;
        if !answer.status().is_success() {
            debug!(
                "GET {info_url} -> {}: no cluster limits",
                answer.status().as_u16()
            );
            return None;
        }
        let body: serde_json::Value = answer.json().ok()?;
        let limit = body
            .get("swift")?
            .get("container_listing_limit")?
            .as_u64()?;
        debug!("cluster container_listing_limit is {limit}");
        usize::try_from(limit).ok().filter(|limit| *limit > 0)
    }

    /// Sends `call`, with one repeat after a 401 and retries of transient
    /// failures as `self.retry` allows.
    fn execute(&self, call: &Call<'_>) -> Result<Answer, SwiftError> {
        let started = Instant::now();
        let mut session = self.tokens.session()?;
        let mut renewed = false;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let result = self.send_once(call, &session.storage_url, session.token.expose_secret());
            match result {
                Ok(answer) if answer.status == StatusCode::UNAUTHORIZED => {
                    if renewed {
                        self.stats.count_error();
                        warn!(
                            "{} {}: Swift answered 401 again with a new token: permission denied",
                            call.method, call.display
                        );
                        return Err(SwiftError::Forbidden {
                            path: call.display.to_string(),
                            status: 401,
                        });
                    }
                    session = self.tokens.renew_after_unauthorized(session.generation)?;
                    renewed = true;
                    attempt -= 1;
                }
                Ok(answer) => match status_error(call, &answer) {
                    None => return Ok(answer),
                    Some(error) => {
                        let requested = requested_retry_delay(&answer);
                        if !self.should_retry(&error, requested, attempt, started, call) {
                            // A 404 answers a question (does this name
                            // exist?); it is not a failed request.
                            if !matches!(error, SwiftError::NotFound { .. }) {
                                self.stats.count_error();
                            }
                            return Err(error);
                        }
                    }
                },
                Err(error) => {
                    if !self.should_retry(&error, None, attempt, started, call) {
                        self.stats.count_error();
                        return Err(error);
                    }
                }
            }
        }
    }

    /// Decides whether to retry after failed attempt number `attempt` of a
    /// request that began at `started`, and if so logs it and sleeps for the
    /// backoff delay. `requested` is the server's `Retry-After`.
    fn should_retry(
        &self,
        error: &SwiftError,
        requested: Option<Duration>,
        attempt: u32,
        started: Instant,
        call: &Call<'_>,
    ) -> bool {
        if !error.is_transient() {
            return false;
        }
        let delay = self.retry.delay(attempt - 1, requested);
        let elapsed = started.elapsed();
        if attempt >= self.retry.max_attempts || elapsed + delay > self.retry.max_time {
            if attempt > 1 {
                log_retry_warning(&format!(
                    "{} {}: giving up after {} attempts in {} ms: {}",
                    call.method,
                    call.display,
                    attempt,
                    elapsed.as_millis(),
                    error_chain(error)
                ));
            }
            return false;
        }
        log_retry_warning(&format!(
            "{} {}: attempt {} of {} failed, retrying in {} ms: {}",
            call.method,
            call.display,
            attempt,
            self.retry.max_attempts,
            delay.as_millis(),
            error_chain(error)
        ));
        self.stats.count_retry();
        std::thread::sleep(delay);
        true
    }

    /// Sends one attempt and reads the whole body.
    fn send_once(
        &self,
        call: &Call<'_>,
        storage_url: &str,
        token: &str,
    ) -> Result<Answer, SwiftError> {
        let mut url = format!("{}{}", storage_url.trim_end_matches('/'), call.url_path);
        if !call.query.is_empty() {
            url.push('?');
            url.push_str(&call.query);
        }
        let mut token_value = reqwest::header::HeaderValue::from_str(token).map_err(|_| {
            SwiftError::InvalidResponse {
                method: method_name(&call.method),
                path: call.display.to_string(),
                what: "the token contains characters not allowed in an HTTP header".to_string(),
            }
        })?;
        // Keeps the token out of any debug output of the HTTP stack.
        token_value.set_sensitive(true);
        let mut request = self
            .http
            .request(call.method.clone(), &url)
            .header("x-auth-token", token_value);
        for (name, value) in &call.headers {
            request = request.header(name.as_str(), value);
        }
        match &call.body {
            RequestBody::Empty => {}
            RequestBody::Bytes(bytes) => {
                self.stats.count_bytes_out(bytes.len() as u64);
                request = request.body(bytes.clone());
            }
            RequestBody::File { path, offset, len } => {
                // Opened again for every attempt, so a retry sends it whole.
                let staged_error = |err: std::io::Error| SwiftError::InvalidResponse {
                    method: method_name(&call.method),
                    path: call.display.to_string(),
                    what: format!("cannot read staged data {}: {err}", path.display()),
                };
                let mut file = std::fs::File::open(path).map_err(staged_error)?;
                std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(*offset))
                    .map_err(staged_error)?;
                self.stats.count_bytes_out(*len);
                let reader = std::io::Read::take(file, *len);
                request = request.body(reqwest::blocking::Body::sized(reader, *len));
            }
        }

        self.stats.count_request(call.kind);
        let started = Instant::now();
        let transport = |source| SwiftError::Transport {
            method: method_name(&call.method),
            path: call.display.to_string(),
            source,
        };
        let mut response = request.send().map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut received = DeadlineBuffer::new(
            started,
            self.retry.request_timeout,
            response.content_length(),
        );
        response.copy_to(&mut received).map_err(transport)?;
        let body = Bytes::from(received.bytes);
        self.stats.count_bytes_in(body.len() as u64);
        debug!(
            "{} {}{}{} -> {} in {} ms, {} bytes (transaction {})",
            call.method,
            call.display,
            if call.query.is_empty() { "" } else { "?" },
            call.query,
            status.as_u16(),
            started.elapsed().as_millis(),
            body.len(),
            trans_id(&headers)
        );
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// Requests that change objects and containers.
impl SwiftClient {
    /// Uploads an object. `headers` carries `Content-Type`, `ETag` (the MD5,
    /// which Swift checks) and user metadata.
    pub fn put_object(
        &self,
        container: &str,
        object: &str,
        body: RequestBody,
        headers: Vec<(String, String)>,
    ) -> Result<ObjectMeta, SwiftError> {
        let display = format!("{container}/{object}");
        let answer = self.execute(&Call {
            method: Method::PUT,
            kind: RequestKind::Put,
            url_path: object_url_path(container, object),
            query: String::new(),
            headers,
            body,
            display: &display,
        })?;
        Ok(ObjectMeta::from_headers(&answer.headers))
    }

    /// Writes a Static Large Object manifest (`multipart-manifest=put`):
    /// `segments` are `(path, etag, size)` with paths `/container/object`.
    pub fn put_slo_manifest(
        &self,
        container: &str,
        object: &str,
        segments: &[(String, String, u64)],
        headers: Vec<(String, String)>,
    ) -> Result<(), SwiftError> {
        let manifest: Vec<serde_json::Value> = segments
            .iter()
            .map(|(path, etag, size)| serde_json::json!({"path": path, "etag": etag, "size_bytes": size}))
            .collect();
        let body = serde_json::to_vec(&manifest).map_err(|err| SwiftError::InvalidResponse {
            method: "PUT",
            path: format!("{container}/{object}"),
            what: format!("cannot encode the manifest: {err}"),
        })?;
        let display = format!("{container}/{object}");
        self.execute(&Call {
            method: Method::PUT,
            kind: RequestKind::Put,
            url_path: object_url_path(container, object),
            query: "multipart-manifest=put".to_string(),
            headers,
            body: RequestBody::Bytes(Bytes::from(body)),
            display: &display,
        })?;
        Ok(())
    }

    /// Replaces an object's user metadata (and, if given, its content type)
    /// without touching its data.
    pub fn post_object(
        &self,
        container: &str,
        object: &str,
        headers: Vec<(String, String)>,
    ) -> Result<(), SwiftError> {
        let display = format!("{container}/{object}");
        self.execute(&Call {
            method: Method::POST,
            kind: RequestKind::Post,
            url_path: object_url_path(container, object),
            query: String::new(),
            headers,
            body: RequestBody::Empty,
            display: &display,
        })?;
        Ok(())
    }

    /// Copies an object on the server. With `manifest`, a large object's
    /// manifest is copied instead of its content being joined into one
    /// object (`multipart-manifest=get`).
    pub fn copy_object(
        &self,
        source: (&str, &str),
        destination: (&str, &str),
        manifest: bool,
        mut headers: Vec<(String, String)>,
    ) -> Result<(), SwiftError> {
        let (container, object) = source;
        let display = format!("{container}/{object}");
        headers.push((
            "destination".to_string(),
            format!(
                "/{}/{}",
                encode_path(destination.0),
                encode_path(destination.1)
            ),
        ));
        let query = if manifest {
            "multipart-manifest=get"
        } else {
            ""
        };
        self.execute(&Call {
            method: Method::from_bytes(b"COPY").expect("COPY is a valid method"),
            kind: RequestKind::Copy,
            url_path: object_url_path(container, object),
            query: query.to_string(),
            headers,
            body: RequestBody::Empty,
            display: &display,
        })?;
        Ok(())
    }

    /// Deletes an object. A large object's manifest alone is deleted; its
    /// segments stay.
    pub fn delete_object(&self, container: &str, object: &str) -> Result<(), SwiftError> {
        let display = format!("{container}/{object}");
        self.execute(&Call {
            method: Method::DELETE,
            kind: RequestKind::Delete,
            url_path: object_url_path(container, object),
            query: String::new(),
            headers: Vec::new(),
            body: RequestBody::Empty,
            display: &display,
        })?;
        Ok(())
    }

    pub fn put_container(&self, container: &str) -> Result<(), SwiftError> {
        self.container_request(Method::PUT, RequestKind::Put, container)
    }

    /// Deletes an empty container; `Conflict` when it still has objects.
    pub fn delete_container(&self, container: &str) -> Result<(), SwiftError> {
        self.container_request(Method::DELETE, RequestKind::Delete, container)
    }

    /// Sends a bodiless request to a container.
    fn container_request(
        &self,
        method: Method,
        kind: RequestKind,
        container: &str,
    ) -> Result<(), SwiftError> {
        self.execute(&Call {
            method,
            kind,
            url_path: format!("/{}", encode_path(container)),
            query: String::new(),
            headers: Vec::new(),
            body: RequestBody::Empty,
            display: container,
        })?;
        Ok(())
    }
}

/// Builds the URL path of an object below the storage URL.
fn object_url_path(container: &str, object: &str) -> String {
    format!("/{}/{}", encode_path(container), encode_path(object))
}

fn trans_id(headers: &HeaderMap) -> String {
    headers
        .get("x-trans-id")
        .or_else(|| headers.get("x-openstack-request-id"))
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-")
        .to_string()
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        // The only other method sent.
        _ => "COPY",
    }
}

/// Maps a non-success status to its error; `None` for success.
fn status_error(call: &Call<'_>, answer: &Answer) -> Option<SwiftError> {
    let path = call.display.to_string();
    let status = answer.status;
    if status.is_success() {
        return None;
    }
    Some(match status {
        StatusCode::NOT_FOUND => SwiftError::NotFound { path },
        StatusCode::FORBIDDEN => SwiftError::Forbidden { path, status: 403 },
        StatusCode::CONFLICT => SwiftError::Conflict { path },
        StatusCode::PRECONDITION_FAILED => SwiftError::PreconditionFailed {
            path,
            trans_id: trans_id(&answer.headers),
        },
        StatusCode::PAYLOAD_TOO_LARGE => SwiftError::TooLarge { path },
        StatusCode::RANGE_NOT_SATISFIABLE => SwiftError::RangeNotSatisfiable { path },
        _ => SwiftError::Status {
            method: method_name(&call.method),
            path,
            status: status.as_u16(),
            trans_id: trans_id(&answer.headers),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_path_encodes_both_parts() {
        assert_eq!(
            object_url_path("my photos", "a b/c#.jpg"),
            "/my%20photos/a%20b/c%23.jpg"
        );
    }

    #[test]
    fn retry_delay_doubles_within_jitter() {
        let policy = RetryPolicy::default();
        for retry in 0..3 {
            let base = Duration::from_millis(200 * 2u64.pow(retry));
            let delay = policy.delay(retry, None);
            assert!(delay >= base, "retry {retry}: {delay:?} < {base:?}");
            assert!(
                delay <= base.mul_f64(1.5),
                "retry {retry}: {delay:?} too long"
            );
        }
    }

    #[test]
    fn retry_delay_capped() {
        let policy = RetryPolicy::default();
        assert!(policy.delay(20, None) <= policy.max_delay.mul_f64(1.5));
    }

    #[test]
    fn retry_delay_honours_retry_after() {
        let policy = RetryPolicy::default();
        let delay = policy.delay(0, Some(Duration::from_secs(2)));
        assert_eq!(delay, Duration::from_secs(2));
    }

    #[test]
    fn retry_delay_caps_retry_after() {
        let policy = RetryPolicy::default();
        let delay = policy.delay(0, Some(Duration::from_secs(3600)));
        assert_eq!(delay, policy.max_delay);
    }

    fn answer_with(status: StatusCode, retry_after: &str) -> Answer {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, retry_after.parse().unwrap());
        Answer {
            status,
            headers,
            body: Bytes::new(),
        }
    }

    #[test]
    fn retry_after_seconds_read() {
        let answer = answer_with(StatusCode::SERVICE_UNAVAILABLE, " 7 ");
        assert_eq!(requested_retry_delay(&answer), Some(Duration::from_secs(7)));
    }

    #[test]
    fn retry_after_date_read() {
        let at = SystemTime::now() + Duration::from_secs(120);
        let answer = answer_with(StatusCode::TOO_MANY_REQUESTS, &httpdate::fmt_http_date(at));
        let delay = requested_retry_delay(&answer).unwrap();
        assert!(delay > Duration::from_secs(100), "{delay:?}");
        assert!(delay <= Duration::from_secs(120), "{delay:?}");
    }

    #[test]
    fn retry_after_past_date_is_zero() {
        let answer = answer_with(
            StatusCode::SERVICE_UNAVAILABLE,
            "Mon, 01 Jan 2001 00:00:00 GMT",
        );
        assert_eq!(requested_retry_delay(&answer), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_ignored_on_other_status() {
        let answer = answer_with(StatusCode::INTERNAL_SERVER_ERROR, "7");
        assert_eq!(requested_retry_delay(&answer), None);
    }

    #[test]
    fn retry_after_garbage_ignored() {
        let answer = answer_with(StatusCode::SERVICE_UNAVAILABLE, "soon");
        assert_eq!(requested_retry_delay(&answer), None);
    }

    #[test]
    fn deadline_buffer_rejects_late_writes() {
        let started = Instant::now() - Duration::from_secs(2);
        let mut buffer = DeadlineBuffer::new(started, Duration::from_secs(1), Some(10));
        let error = buffer.write(b"late").unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        assert!(buffer.bytes.is_empty());
    }

    #[test]
    fn deadline_buffer_keeps_timely_writes() {
        let mut buffer = DeadlineBuffer::new(Instant::now(), Duration::from_secs(60), None);
        buffer.write_all(b"on time").unwrap();
        assert_eq!(buffer.bytes, b"on time");
    }

    #[test]
    fn warning_budget_suppresses_over_quota() {
        let mut budget = WarningBudget::new();
        let start = Instant::now();
        for _ in 0..RETRY_WARNINGS_PER_WINDOW {
            assert_eq!(budget.admit(start), Some(0));
        }
        assert_eq!(budget.admit(start), None);
        assert_eq!(budget.admit(start + Duration::from_secs(1)), None);
    }

    #[test]
    fn warning_budget_reports_suppressed_in_next_window() {
        let mut budget = WarningBudget::new();
        let start = Instant::now();
        for _ in 0..RETRY_WARNINGS_PER_WINDOW + 3 {
            budget.admit(start);
        }
        let later = start + RETRY_WARNING_WINDOW;
        assert_eq!(budget.admit(later), Some(3));
        assert_eq!(budget.admit(later), Some(0));
    }
}
