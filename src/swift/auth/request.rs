//! Sending one authentication request and reading its response. The three
//! protocols map failures onto `AuthError` through these helpers, so the user
//! gets the same kind of message whichever protocol is configured.

use std::time::{Instant, SystemTime};

use chrono::{DateTime, NaiveDateTime};
use log::{debug, warn};
use reqwest::blocking::{RequestBuilder, Response};
use reqwest::StatusCode;
use serde_json::Value;

use super::AuthError;

/// Maximum characters of an error body kept in `AuthError::Status`, enough
/// for a typical Keystone JSON error and short enough for one log line.
const BODY_EXCERPT_CHARS: usize = 200;

/// One authentication request, as named in logs and error messages.
pub(super) struct Target<'a> {
    pub method: &'static str,
    pub url: &'a str,
    /// The user (and scope) named in `AuthError::Rejected`. Never a secret.
    pub user: &'a str,
}

/// Sends `request` and returns the response if its status is 2xx.
///
/// Transport failures become `Unreachable`, 401 and 403 become `Rejected`,
/// and any other status becomes `Status` with a short excerpt of the body.
pub(super) fn send(request: RequestBuilder, target: &Target) -> Result<Response, AuthError> {
    let started = Instant::now();
    let result = request.send();
    let elapsed_ms = started.elapsed().as_millis();

    let response = match result {
        Ok(response) => response,
        Err(source) => {
            debug!(
                "auth {} {} failed after {elapsed_ms} ms: {}",
                target.method,
                target.url,
                error_chain(&source)
            );
            return Err(AuthError::Unreachable {
                url: target.url.to_string(),
                source,
            });
        }
    };
    let status = response.status();
    debug!(
        "auth {} {} returned HTTP {} in {elapsed_ms} ms",
        target.method,
        target.url,
        status.as_u16()
    );

    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(AuthError::Rejected {
            url: target.url.to_string(),
            user: target.user.to_string(),
            status: status.as_u16(),
        });
    }
    if !status.is_success() {
        // An unreadable body leaves the status as the only detail.
        let body = response.text().unwrap_or_default();
        return Err(AuthError::Status {
            url: target.url.to_string(),
            status: status.as_u16(),
            body: body_excerpt(&body),
        });
    }
    Ok(response)
}

/// Reads the body of a successful response as JSON.
///
/// A parse error names only the position, never the body, because a
/// successful body can contain the token.
pub(super) fn read_json(response: Response, url: &str) -> Result<Value, AuthError> {
    let body = response.text().map_err(|source| AuthError::Unreachable {
        url: url.to_string(),
        source,
    })?;
    serde_json::from_str(&body)
        .map_err(|error| invalid(url, format!("the body is not JSON: {error}")))
}

pub(super) fn invalid(url: &str, what: impl Into<String>) -> AuthError {
    AuthError::InvalidResponse {
        url: url.to_string(),
        what: what.into(),
    }
}

/// Returns the value at a dotted `path` such as `access.token.id`.
pub(super) fn field<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |value, key| value.get(key))
}

/// Returns the non-empty string at `path`, or `InvalidResponse` naming the path.
pub(super) fn required_str<'a>(
    value: &'a Value,
    path: &str,
    url: &str,
) -> Result<&'a str, AuthError> {
    field(value, path)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .ok_or_else(|| invalid(url, format!("{path} missing")))
}

/// Reads the token expiry at `path`. A missing expiry gives `None`, and so
/// does an invalid one, with a warning. The token manager then renews the
/// token when Swift rejects it, which is better than rejecting a working token.
pub(super) fn optional_expiry(value: &Value, path: &str, url: &str) -> Option<SystemTime> {
    let text = field(value, path)?.as_str()?;
    let expiry = parse_iso8601(text);
    if expiry.is_none() {
        warn!("ignoring the invalid token expiry {text:?} in {path} from {url}, so the token will be renewed only when Swift rejects it");
    }
    expiry
}

/// Parses a Keystone timestamp: RFC 3339, with `Z` or an offset and optional
/// fractional seconds, or the same without a zone, which Keystone writes in UTC.
pub(super) fn parse_iso8601(text: &str) -> Option<SystemTime> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.into());
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    Some(naive.and_utc().into())
}

/// Shortens an error body to one line of at most `BODY_EXCERPT_CHARS`
/// characters, with the tags of an HTML error page removed.
pub(super) fn body_excerpt(body: &str) -> String {
    let text = if body.trim_start().starts_with('<') {
        strip_tags(body)
    } else {
        body.to_string()
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return "(empty body)".to_string();
    }

    let line = words.join(" ");
    if line.chars().count() <= BODY_EXCERPT_CHARS {
        return line;
    }
    let mut short: String = line.chars().take(BODY_EXCERPT_CHARS).collect();
    short.push('…');
    short
}

/// Removes HTML tags, and the contents of `script` and `style` elements, which
/// are no text a reader wants in an error message.
fn strip_tags(html: &str) -> String {
    let mut text = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        text.push_str(&rest[..start]);
        text.push(' ');

        let tag = &rest[start..];
        let end = tag.find('>').map_or(tag.len(), |index| index + 1);
        let name = tag_name(&tag[..end]);
        rest = &tag[end..];

        if name == "script" || name == "style" {
            // ASCII lowercasing keeps byte offsets, so `index` is valid in `rest`.
            let closing = format!("</{name}");
            rest = match rest.to_ascii_lowercase().find(&closing) {
                Some(index) => &rest[index..],
                None => "",
            };
        }
    }
    text.push_str(rest);
    text
}

/// Returns the lowercase element name of an opening tag, or "" for others.
fn tag_name(tag: &str) -> String {
    tag.trim_start_matches('<')
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Formats an error with its sources, such as
/// `error sending request: operation timed out`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::json;

    use super::*;

    fn unix_seconds(time: SystemTime) -> f64 {
        time.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
    }

    #[test]
    fn iso8601_with_z() {
        let time = parse_iso8601("2015-05-09T08:26:04Z").unwrap();
        assert_eq!(unix_seconds(time), 1_431_159_964.0);
    }

    #[test]
    fn iso8601_fractional_seconds() {
        let time = parse_iso8601("2015-05-09T08:26:04.500000Z").unwrap();
        assert_eq!(unix_seconds(time), 1_431_159_964.5);
    }

    #[test]
    fn iso8601_offset() {
        let time = parse_iso8601("2015-05-09T10:26:04+02:00").unwrap();
        assert_eq!(unix_seconds(time), 1_431_159_964.0);
    }

    #[test]
    fn iso8601_without_zone_is_utc() {
        let time = parse_iso8601("2015-05-09T08:26:04.000000").unwrap();
        assert_eq!(time, UNIX_EPOCH + Duration::from_secs(1_431_159_964));
    }

    #[test]
    fn iso8601_invalid() {
        assert_eq!(parse_iso8601("tomorrow"), None);
    }

    #[test]
    fn expiry_missing_is_none() {
        let body = json!({"token": {}});
        assert_eq!(optional_expiry(&body, "token.expires_at", "http://x"), None);
    }

    #[test]
    fn required_str_names_path() {
        let body = json!({"access": {"token": {}}});
        let error = required_str(&body, "access.token.id", "http://x").unwrap_err();
        assert!(
            error.to_string().contains("access.token.id missing"),
            "{error}"
        );
    }

    #[test]
    fn required_str_rejects_empty() {
        let body = json!({"access": {"token": {"id": ""}}});
        assert!(required_str(&body, "access.token.id", "http://x").is_err());
    }

    #[test]
    fn excerpt_keeps_short_json() {
        let body = r#"{"error": {"message": "The request you have made requires authentication.", "code": 401}}"#;
        assert_eq!(body_excerpt(body), body);
    }

    #[test]
    fn excerpt_strips_html() {
        let body = "<html><head><title>500 Internal Server Error</title>\n<style>body { color: red; }</style></head>\n<body><h1>Internal Server Error</h1></body></html>";
        assert_eq!(
            body_excerpt(body),
            "500 Internal Server Error Internal Server Error"
        );
    }

    #[test]
    fn excerpt_drops_script() {
        let body = "<html><SCRIPT>var secret = 1;</SCRIPT><p>Bad Gateway</p></html>";
        assert_eq!(body_excerpt(body), "Bad Gateway");
    }

    #[test]
    fn excerpt_truncates_long_body() {
        let body = "é".repeat(1000);
        assert_eq!(body_excerpt(&body).chars().count(), BODY_EXCERPT_CHARS + 1);
    }

    #[test]
    fn excerpt_empty_body() {
        assert_eq!(body_excerpt(" \n"), "(empty body)");
    }
}
