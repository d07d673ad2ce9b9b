//! Parsing of container and object listings (`?format=json`).

use std::time::SystemTime;

use chrono::{NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;

/// One row of an object listing made with `delimiter=/`.
#[derive(Clone, Debug, PartialEq)]
pub enum ListingEntry {
    Object(ListedObject),
    /// A pseudo-directory: the full name including the trailing delimiter.
    Subdir(String),
}

impl ListingEntry {
    /// The full name, used as the `marker` for the next page.
    pub fn name(&self) -> &str {
        match self {
            ListingEntry::Object(object) => &object.name,
            ListingEntry::Subdir(name) => name,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ListedObject {
    pub name: String,
    /// `0` for Dynamic Large Object manifests: only a `HEAD` gives their size.
    pub bytes: u64,
    /// The ETag that a `GET` of the object returns, without quotes: the
    /// `hash` row, except for Static Large Objects, whose `hash` is the
    /// manifest's and whose object ETag comes in `slo_etag`.
    pub etag: Option<String>,
    pub content_type: Option<String>,
    pub last_modified: Option<SystemTime>,
}

/// One row of an account listing.
#[derive(Clone, Debug, PartialEq)]
pub struct ListedContainer {
    pub name: String,
    pub count: u64,
    pub bytes: u64,
    pub last_modified: Option<SystemTime>,
}

#[derive(Deserialize)]
struct RawRow {
    name: Option<String>,
    subdir: Option<String>,
    bytes: Option<u64>,
    count: Option<u64>,
    hash: Option<String>,
    slo_etag: Option<String>,
    content_type: Option<String>,
    last_modified: Option<String>,
}

/// Parses an object listing. Rows with neither `name` nor `subdir` are
/// rejected, since skipping them could end pagination early.
pub fn parse_objects(body: &[u8]) -> Result<Vec<ListingEntry>, String> {
    let rows: Vec<RawRow> =
        serde_json::from_slice(body).map_err(|err| format!("listing is not valid JSON: {err}"))?;
    rows.into_iter()
        .map(|row| match (row.subdir, row.name) {
            (Some(subdir), _) => Ok(ListingEntry::Subdir(subdir)),
            (None, Some(name)) => Ok(ListingEntry::Object(ListedObject {
                name,
                bytes: row.bytes.unwrap_or(0),
                etag: row
                    .slo_etag
                    .map(|etag| etag.trim_matches('"').to_string())
                    .or(row.hash),
                content_type: row.content_type,
                last_modified: row.last_modified.as_deref().and_then(parse_listing_time),
            })),
            (None, None) => Err("listing row has neither \"name\" nor \"subdir\"".to_string()),
        })
        .collect()
}

/// Parses an account listing.
pub fn parse_containers(body: &[u8]) -> Result<Vec<ListedContainer>, String> {
    let rows: Vec<RawRow> =
        serde_json::from_slice(body).map_err(|err| format!("listing is not valid JSON: {err}"))?;
    rows.into_iter()
        .map(|row| {
            let name = row
                .name
                .ok_or_else(|| "container listing row has no \"name\"".to_string())?;
            Ok(ListedContainer {
                name,
                count: row.count.unwrap_or(0),
                bytes: row.bytes.unwrap_or(0),
                last_modified: row.last_modified.as_deref().and_then(parse_listing_time),
            })
        })
        .collect()
}

/// Parses the listing's `last_modified`, UTC with microseconds and no zone
/// (`2026-12-04T20:07:33.123450`); a trailing `Z` is accepted too.
pub fn parse_listing_time(value: &str) -> Option<SystemTime> {
    let trimmed = value.trim_end_matches('Z');
    let naive = NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    Some(Utc.from_utc_datetime(&naive).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn objects_and_subdirs() {
        let body = br#"[
            {"subdir": "fullsize/"},
            {"name": "a.jpg", "bytes": 12, "hash": "d41d", "content_type": "image/jpeg",
             "last_modified": "2020-01-02T03:04:05.250000"}
        ]"#;
        let entries = parse_objects(body).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0], ListingEntry::Subdir("fullsize/".to_string()));
        let ListingEntry::Object(object) = &entries[1] else {
            panic!("second entry is not an object: {:?}", entries[1]);
        };
        assert_eq!(object.bytes, 12);
        assert_eq!(object.etag.as_deref(), Some("d41d"));
        assert_eq!(
            object.last_modified,
            Some(UNIX_EPOCH + Duration::from_millis(1_577_934_245_250))
        );
    }

    #[test]
    fn slo_etag_replaces_manifest_hash() {
        let body = br#"[{"name": "slo.bin", "bytes": 2097162, "hash": "7378",
                         "slo_etag": "\"ecbc\"", "last_modified": "2026-12-04T20:23:02.372520"}]"#;
        let entries = parse_objects(body).unwrap();
        let ListingEntry::Object(object) = &entries[0] else {
            panic!("not an object: {:?}", entries[0]);
        };
        assert_eq!(object.etag.as_deref(), Some("ecbc"));
    }

    #[test]
    fn objects_empty_page() {
        assert_eq!(parse_objects(b"[]").unwrap(), Vec::new());
    }

    #[test]
    fn objects_row_without_name_rejected() {
        let err = parse_objects(br#"[{"bytes": 1}]"#).unwrap_err();
        assert!(err.contains("neither"), "{err}");
    }

    #[test]
    fn objects_html_rejected() {
        let err = parse_objects(b"<html>oops</html>").unwrap_err();
        assert!(err.contains("not valid JSON"), "{err}");
    }

    #[test]
    fn containers_parsed() {
        let body = br#"[{"name": "photos", "count": 24, "bytes": 9000,
                        "last_modified": "2026-12-04T20:07:33.123450"}]"#;
        let containers = parse_containers(body).unwrap();
        assert_eq!(containers[0].name, "photos");
        assert_eq!(containers[0].count, 24);
        assert_eq!(containers[0].bytes, 9000);
        assert!(containers[0].last_modified.is_some());
    }

    #[test]
    fn listing_time_with_zone_suffix() {
        assert_eq!(
            parse_listing_time("2020-01-02T03:04:05Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_577_934_245))
        );
    }

    #[test]
    fn listing_time_garbage_is_none() {
        assert_eq!(parse_listing_time("last tuesday"), None);
    }
}
