//! The edge between the read path and Swift: one pinned version of one
//! object, as a source of byte ranges. Tests put in-memory, slow and failing
//! sources in its place.

use std::sync::Arc;

use bytes::Bytes;

use crate::swift::{SwiftClient, SwiftError};

/// Byte ranges of one version of one object.
pub trait RangeSource: Send + Sync {
    /// Fetches bytes `start..end` (end exclusive). Returns fewer bytes only
    /// when the object ends first, and none when `start` is past its end.
    /// Fails with `SwiftError::PreconditionFailed` once the object no longer
    /// is the version the source was opened on.
    fn fetch(&self, start: u64, end: u64) -> Result<Bytes, SwiftError>;

    /// `container/object`, for log lines and errors.
    fn display(&self) -> &str;
}

/// An object in Swift, pinned by the ETag seen at open: every ranged `GET`
/// carries it as `If-Match`, so Swift answers 412 instead of bytes of a
/// newer version. Swift 2.30 compares `If-Match` with the ETag that a `HEAD`
/// returns for plain objects and for both kinds of large object.
pub struct SwiftObject {
    client: Arc<SwiftClient>,
    container: String,
    object: String,
    if_match: Option<String>,
    display: String,
}

impl SwiftObject {
    pub fn new(
        client: Arc<SwiftClient>,
        container: String,
        object: String,
        if_match: Option<String>,
    ) -> SwiftObject {
        let display = format!("{container}/{object}");
        SwiftObject {
            client,
            container,
            object,
            if_match,
            display,
        }
    }
}

impl RangeSource for SwiftObject {
    fn fetch(&self, start: u64, end: u64) -> Result<Bytes, SwiftError> {
        self.client.get_range(
            &self.container,
            &self.object,
            start,
            end,
            self.if_match.as_deref(),
        )
    }

    fn display(&self) -> &str {
        &self.display
    }
}
