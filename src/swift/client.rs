//! The Swift object client: every request goes through `execute`, which adds
//! the token, repeats the request once after a 401 with a renewed token,
//! retries transient failures with backoff, logs one debug line per attempt
//! and counts it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use log::{debug, warn};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;

use super::error::SwiftError;
use super::headers::{AccountMeta, ContainerMeta, ObjectMeta};
use super::listing::{self, ListedContainer, ListingEntry};
use super::path::{encode_path, encode_query};
use super::stats::{RequestKind, Stats};
use super::token::TokenManager;

/// How often and how patiently transient failures are retried.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// Delay before the first retry; it doubles with each further retry.
    pub first_delay: Duration,
    /// Longest delay between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Four attempts, 0.2 s then 0.4 s then 0.8 s apart (each with up to 50%
    /// random jitter), so a failing request gives up after about 2 s of waiting
    /// plus the request timeouts.
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    fn delay(&self, retry: u32) -> Duration {
        let base = self
            .first_delay
            .saturating_mul(2u32.saturating_pow(retry.min(16)))
            .min(self.max_delay);
        base + base.mul_f64(fastrand::f64() * 0.5)
    }
}

/// A fully read answer. Bodies are small: listings of at most one page and
/// object ranges of a few MiB, so buffering lets a broken body be retried.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// One request, described independently of the storage URL so that it can
/// be sent again with a renewed token.
struct Call<'a> {
    method: Method,
    kind: RequestKind,
    /// Percent-encoded path below the storage URL, starting with `/` or empty.
    url_path: String,
    query: String,
    headers: Vec<(&'static str, String)>,
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
            display: &display,
        })?;
        Ok(ObjectMeta::from_headers(&answer.headers))
    }

    /// One page of the account's containers, after `marker`.
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
        let mut headers = vec![("range", format!("bytes={}-{}", start, end - 1))];
        if let Some(etag) = if_match {
            headers.push(("if-match", format!("\"{etag}\"")));
        }
        let result = self.execute(&Call {
            method: Method::GET,
            kind: RequestKind::Get,
            url_path: object_url_path(container, object),
            query: String::new(),
            headers,
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
                        if !self.should_retry(&error, attempt, call) {
                            self.stats.count_error();
                            return Err(error);
                        }
                    }
                },
                Err(error) => {
                    if !self.should_retry(&error, attempt, call) {
                        self.stats.count_error();
                        return Err(error);
                    }
                }
            }
        }
    }

    /// Decides whether to retry after a failed attempt, and if so logs it and
    /// sleeps for the backoff delay.
    fn should_retry(&self, error: &SwiftError, attempt: u32, call: &Call<'_>) -> bool {
        if !error.is_transient() || attempt >= self.retry.max_attempts {
            return false;
        }
        let delay = self.retry.delay(attempt - 1);
        warn!(
            "{} {}: attempt {} of {} failed, retrying in {} ms: {}",
            call.method,
            call.display,
            attempt,
            self.retry.max_attempts,
            delay.as_millis(),
            error
        );
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
            request = request.header(*name, value);
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
        let body = read_body(&mut response).map_err(transport)?;
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

/// Largest body buffer allocated up front from `Content-Length`, so that a
/// wrong header cannot make one request allocate without bound.
const MAX_PREALLOCATED_BODY: u64 = 64 * 1024 * 1024;

/// Reads the whole body into one buffer sized from `Content-Length`.
/// `Response::bytes` collects the received chunks and then copies them into
/// one buffer, so a body of N bytes briefly needs 2N; this needs N, which
/// keeps parallel ranged GETs within the read path's memory caps.
fn read_body(response: &mut reqwest::blocking::Response) -> reqwest::Result<Bytes> {
    let expected = response
        .content_length()
        .unwrap_or(0)
        .min(MAX_PREALLOCATED_BODY);
    let mut body = Vec::with_capacity(expected as usize);
    response.copy_to(&mut body)?;
    Ok(Bytes::from(body))
}

/// The URL path of an object below the storage URL.
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
            let delay = policy.delay(retry);
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
        assert!(policy.delay(20) <= policy.max_delay.mul_f64(1.5));
    }
}
