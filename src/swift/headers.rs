//! Object, container and account metadata taken from `HEAD` response headers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

/// Object metadata from a `HEAD`.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectMeta {
    /// `Content-Length`: for large objects, the size of the whole object.
    pub size: u64,
    /// `Last-Modified` (one-second precision), or `X-Timestamp` when present,
    /// which is the same write time with sub-second precision.
    pub last_modified: Option<SystemTime>,
    /// `X-Object-Meta-Mtime`, set by clients that preserve modification times.
    pub meta_mtime: Option<SystemTime>,
    /// The ETag without quotes. For large objects it is not the content's MD5.
    pub etag: Option<String>,
    pub content_type: Option<String>,
    /// `true` for Dynamic and Static Large Object manifests.
    pub is_large_object: bool,
    /// `X-Object-Manifest` of a Dynamic Large Object: `container/prefix`.
    pub dlo_manifest: Option<String>,
    /// `X-Object-Meta-*` headers, names in lower case, in header order. A
    /// `POST` replaces all of them, so they are sent again with any change.
    pub user_metadata: Vec<(String, String)>,
}

impl ObjectMeta {
    /// Reads the metadata of an object from its `HEAD` or `GET` headers.
    pub fn from_headers(headers: &HeaderMap) -> ObjectMeta {
        let timestamp = header_str(headers, "x-timestamp").and_then(parse_unix_seconds);
        let http_date = header_str(headers, "last-modified")
            .and_then(|value| httpdate::parse_http_date(value).ok());
        ObjectMeta {
            size: header_str(headers, "content-length")
                .and_then(|value| value.parse().ok())
                .unwrap_or(0),
            last_modified: timestamp.or(http_date),
            meta_mtime: header_str(headers, "x-object-meta-mtime").and_then(parse_unix_seconds),
            etag: header_str(headers, "etag").map(|value| value.trim_matches('"').to_string()),
            content_type: header_str(headers, "content-type").map(str::to_string),
            is_large_object: headers.contains_key("x-object-manifest")
                || header_str(headers, "x-static-large-object")
                    .is_some_and(|value| value.eq_ignore_ascii_case("true")),
            dlo_manifest: header_str(headers, "x-object-manifest").map(str::to_string),
            user_metadata: headers
                .iter()
                .filter(|(name, _)| name.as_str().starts_with("x-object-meta-"))
                .filter_map(|(name, value)| {
                    Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
                })
                .collect(),
        }
    }
}

/// Account usage from a `HEAD`, the source of `statfs`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountMeta {
    pub bytes_used: u64,
    pub object_count: u64,
    pub container_count: u64,
    /// `X-Account-Meta-Quota-Bytes`, set by the `account_quotas` middleware.
    pub quota_bytes: Option<u64>,
}

impl AccountMeta {
    pub fn from_headers(headers: &HeaderMap) -> AccountMeta {
        let number = |name: &str| header_str(headers, name).and_then(|value| value.parse().ok());
        AccountMeta {
            bytes_used: number("x-account-bytes-used").unwrap_or(0),
            object_count: number("x-account-object-count").unwrap_or(0),
            container_count: number("x-account-container-count").unwrap_or(0),
            quota_bytes: number("x-account-meta-quota-bytes"),
        }
    }
}

/// Container usage from a `HEAD`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerMeta {
    pub bytes_used: u64,
    pub object_count: u64,
    /// `X-Container-Meta-Quota-Bytes`, set by the `container_quotas` middleware.
    pub quota_bytes: Option<u64>,
    pub last_modified: Option<SystemTime>,
}

impl ContainerMeta {
    pub fn from_headers(headers: &HeaderMap) -> ContainerMeta {
        let number = |name: &str| header_str(headers, name).and_then(|value| value.parse().ok());
        ContainerMeta {
            bytes_used: number("x-container-bytes-used").unwrap_or(0),
            object_count: number("x-container-object-count").unwrap_or(0),
            quota_bytes: number("x-container-meta-quota-bytes"),
            last_modified: header_str(headers, "x-put-timestamp")
                .or_else(|| header_str(headers, "x-timestamp"))
                .and_then(parse_unix_seconds),
        }
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Parses seconds since the epoch with an optional fraction, as Swift writes
/// `X-Timestamp` (`1700000000.12345`) and clients write `X-Object-Meta-Mtime`.
/// Returns `None` for negative, non-finite or unparsable values.
pub fn parse_unix_seconds(value: &str) -> Option<SystemTime> {
    let seconds: f64 = value.trim().parse().ok()?;
    if !seconds.is_finite() || !(0.0..=1e12).contains(&seconds) {
        return None;
    }
    Some(UNIX_EPOCH + Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn object_size_and_etag() {
        let meta = ObjectMeta::from_headers(&headers(&[
            ("Content-Length", "2097162"),
            ("Etag", "\"abc123\""),
            ("Content-Type", "image/jpeg"),
        ]));
        assert_eq!(meta.size, 2_097_162);
        assert_eq!(meta.etag.as_deref(), Some("abc123"));
        assert_eq!(meta.content_type.as_deref(), Some("image/jpeg"));
        assert!(!meta.is_large_object);
    }

    #[test]
    fn object_last_modified_from_http_date() {
        let meta = ObjectMeta::from_headers(&headers(&[(
            "Last-Modified",
            "Thu, 02 Jan 2020 03:04:05 GMT",
        )]));
        assert_eq!(
            meta.last_modified,
            Some(UNIX_EPOCH + Duration::from_secs(1_577_934_245))
        );
    }

    #[test]
    fn object_timestamp_preferred_over_http_date() {
        let meta = ObjectMeta::from_headers(&headers(&[
            ("Last-Modified", "Thu, 02 Jan 2020 03:04:05 GMT"),
            ("X-Timestamp", "1577934245.50000"),
        ]));
        assert_eq!(
            meta.last_modified,
            Some(UNIX_EPOCH + Duration::from_millis(1_577_934_245_500))
        );
    }

    #[test]
    fn object_meta_mtime_parsed() {
        let meta = ObjectMeta::from_headers(&headers(&[("X-Object-Meta-Mtime", "1577934245.25")]));
        assert_eq!(
            meta.meta_mtime,
            Some(UNIX_EPOCH + Duration::from_millis(1_577_934_245_250))
        );
    }

    #[test]
    fn object_bad_mtime_ignored() {
        let meta = ObjectMeta::from_headers(&headers(&[("X-Object-Meta-Mtime", "yesterday")]));
        assert_eq!(meta.meta_mtime, None);
    }

    #[test]
    fn object_manifests_detected() {
        let dlo = ObjectMeta::from_headers(&headers(&[("X-Object-Manifest", "segs/big/")]));
        let slo = ObjectMeta::from_headers(&headers(&[("X-Static-Large-Object", "True")]));
        assert!(dlo.is_large_object);
        assert!(slo.is_large_object);
    }

    #[test]
    fn object_user_metadata_collected() {
        let meta = ObjectMeta::from_headers(&headers(&[
            ("X-Object-Meta-Color", "blue"),
            ("X-Object-Meta-Mtime", "1577934245"),
            ("Content-Type", "image/png"),
        ]));
        assert_eq!(meta.user_metadata.len(), 2);
        assert!(meta
            .user_metadata
            .contains(&("x-object-meta-color".to_string(), "blue".to_string())));
    }

    #[test]
    fn account_quota_and_usage() {
        let meta = AccountMeta::from_headers(&headers(&[
            ("X-Account-Bytes-Used", "15728640"),
            ("X-Account-Object-Count", "2"),
            ("X-Account-Container-Count", "3"),
            ("X-Account-Meta-Quota-Bytes", "104857600"),
        ]));
        assert_eq!(meta.bytes_used, 15_728_640);
        assert_eq!(meta.object_count, 2);
        assert_eq!(meta.container_count, 3);
        assert_eq!(meta.quota_bytes, Some(104_857_600));
    }

    #[test]
    fn unix_seconds_rejects_negative() {
        assert_eq!(parse_unix_seconds("-5"), None);
        assert_eq!(parse_unix_seconds("NaN"), None);
    }
}
