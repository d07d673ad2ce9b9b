//! Randomized tests: the parsers of what a server sends (listings, catalogs,
//! dates, headers) must return an error or a value for any input, never
//! panic. Inputs are random bytes and valid documents with random mutations,
//! from a fixed seed so that a failure repeats.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::auth::catalog;
use super::headers::{parse_unix_seconds, AccountMeta, ContainerMeta, ObjectMeta};
use super::listing::{parse_containers, parse_listing_time, parse_objects};

/// Cases per parser; about a second in all in a debug build.
const CASES: usize = 3_000;

const LISTING: &str = r#"[{"subdir": "a/"}, {"name": "a.jpg", "bytes": 12, "hash": "d41d",
    "content_type": "image/jpeg", "last_modified": "2020-01-02T03:04:05.250000",
    "slo_etag": "\"ecbc\""}]"#;

const CONTAINERS: &str = r#"[{"name": "photos", "count": 24, "bytes": 9000,
    "last_modified": "2026-12-04T20:07:33.123450"}]"#;

const CATALOG_V3: &str = r#"{"token": {"expires_at": "2026-12-05T20:00:00.000000Z",
    "catalog": [{"type": "object-store", "endpoints": [
      {"region_id": "RegionOne", "region": "RegionOne", "interface": "public",
       "url": "http://127.0.0.1:8081/v1/AUTH_x"}]}]}}"#;

const CATALOG_V2: &str = r#"{"access": {"token": {"id": "t", "expires": "2026-12-05T20:00:00Z"},
    "serviceCatalog": [{"type": "object-store", "endpoints": [
      {"region": "GRA", "publicURL": "http://127.0.0.1:8080/v1/AUTH_x",
       "internalURL": "http://127.0.0.1:8080/v1/AUTH_x"}]}]}}"#;

/// Characters that JSON and dates are made of, so mutations often stay
/// close to valid input.
const ALPHABET: &[u8] = b"{}[]\":,.-+0123456789eEZTtrufalsn \\/aA\x00\xff";

fn mutate(rng: &mut fastrand::Rng, seed: &str) -> Vec<u8> {
    let mut bytes = seed.as_bytes().to_vec();
    for _ in 0..rng.usize(1..8) {
        if bytes.is_empty() {
            bytes.push(ALPHABET[rng.usize(..ALPHABET.len())]);
            continue;
        }
        let at = rng.usize(..bytes.len());
        match rng.u8(..4) {
            0 => {
                bytes.remove(at);
            }
            1 => bytes.insert(at, ALPHABET[rng.usize(..ALPHABET.len())]),
            2 => bytes[at] = ALPHABET[rng.usize(..ALPHABET.len())],
            _ => bytes.truncate(at),
        }
    }
    bytes
}

fn random_bytes(rng: &mut fastrand::Rng) -> Vec<u8> {
    (0..rng.usize(..64)).map(|_| rng.u8(..)).collect()
}

/// Mutated documents, then random bytes, as `CASES` inputs.
fn inputs(seed: &str, rng_seed: u64) -> Vec<Vec<u8>> {
    let mut rng = fastrand::Rng::with_seed(rng_seed);
    (0..CASES)
        .map(|case| {
            if case % 4 == 3 {
                random_bytes(&mut rng)
            } else {
                mutate(&mut rng, seed)
            }
        })
        .collect()
}

#[test]
fn object_listing_never_panics() {
    let mut parsed = 0;
    for input in inputs(LISTING, 1) {
        parsed += usize::from(parse_objects(&input).is_ok());
    }
    // Some mutations keep the document valid, so both outcomes occur.
    assert!(parsed > 0, "no mutated listing parsed");
}

#[test]
fn container_listing_never_panics() {
    let mut rejected = 0;
    for input in inputs(CONTAINERS, 2) {
        rejected += usize::from(parse_containers(&input).is_err());
    }
    assert!(rejected > 0, "no input was rejected");
}

#[test]
fn catalogs_never_panic() {
    let url = "http://127.0.0.1:5000/v3/auth/tokens";
    let mut selected = 0;
    for (document, seed) in [(CATALOG_V3, 3), (CATALOG_V2, 4)] {
        for input in inputs(document, seed) {
            let Ok(value) = serde_json::from_slice::<serde_json::Value>(&input) else {
                continue;
            };
            let endpoints = if document == CATALOG_V3 {
                catalog::from_v3(&value, url)
            } else {
                catalog::from_v2(&value, url)
            };
            if let Ok(endpoints) = endpoints {
                let filter = super::auth::EndpointFilter {
                    region: None,
                    interface: super::auth::Interface::Public,
                };
                selected += usize::from(catalog::select(&endpoints, &filter, url).is_ok());
            }
        }
    }
    assert!(selected > 0, "no mutated catalog gave an endpoint");
}

#[test]
fn dates_and_numbers_never_panic() {
    for input in inputs("2026-12-04T20:07:33.123450", 5) {
        let text = String::from_utf8_lossy(&input);
        let _ = parse_listing_time(&text);
        let _ = parse_unix_seconds(&text);
    }
    for input in inputs("1577934245.25", 6) {
        let _ = parse_unix_seconds(&String::from_utf8_lossy(&input));
    }
    assert_eq!(parse_unix_seconds("1e400"), None);
    assert_eq!(parse_unix_seconds("-0.5"), None);
}

#[test]
fn headers_never_panic() {
    let names = [
        "content-length",
        "last-modified",
        "x-timestamp",
        "etag",
        "x-object-meta-mtime",
        "x-static-large-object",
        "x-account-bytes-used",
        "x-account-meta-quota-bytes",
        "x-container-object-count",
    ];
    let mut rng = fastrand::Rng::with_seed(7);
    for input in inputs("Thu, 02 Jan 2020 03:04:05 GMT", 8) {
        let mut headers = HeaderMap::new();
        let name = HeaderName::from_static(names[rng.usize(..names.len())]);
        let Ok(value) = HeaderValue::from_bytes(&input) else {
            continue;
        };
        headers.insert(name, value);
        let _ = ObjectMeta::from_headers(&headers);
        let _ = AccountMeta::from_headers(&headers);
        let _ = ContainerMeta::from_headers(&headers);
    }
    let mut huge = HeaderMap::new();
    huge.insert(
        "content-length",
        HeaderValue::from_static("99999999999999999999999"),
    );
    assert_eq!(ObjectMeta::from_headers(&huge).size, 0);
}
