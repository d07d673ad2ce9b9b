//! Container and object names, validated once and percent-encoded for URLs.

use std::fmt;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Maximum container name length Swift accepts, in bytes.
pub const MAX_CONTAINER_NAME: usize = 256;
/// Maximum object name length Swift accepts by default (`max_object_name_length`), in bytes.
pub const MAX_OBJECT_NAME: usize = 1024;

/// Characters left as they are in a path segment: RFC 3986 unreserved ones.
/// Everything else, including `%`, `?`, `#`, `;` and `+`, is encoded, so
/// that a literal `%25` in a name reaches Swift as `%2525`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Encodes a name for use in a URL path, keeping `/` as a separator.
pub fn encode_path(name: &str) -> String {
    name.split('/')
        .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// Encodes a value for a URL query parameter.
pub fn encode_query(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

/// Why a name cannot be used in Swift.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("name is empty")]
    Empty,
    #[error("name is {len} bytes, longer than Swift's limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("container name contains '/'")]
    Slash,
}

/// A container name: non-empty, no `/`, at most 256 bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerName(String);

impl ContainerName {
    pub fn new(name: &str) -> Result<ContainerName, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.contains('/') {
            return Err(NameError::Slash);
        }
        if name.len() > MAX_CONTAINER_NAME {
            return Err(NameError::TooLong {
                len: name.len(),
                max: MAX_CONTAINER_NAME,
            });
        }
        Ok(ContainerName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContainerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ContainerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// An object name: non-empty, at most 1024 bytes. It may contain `/`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectName(String);

impl ObjectName {
    pub fn new(name: &str) -> Result<ObjectName, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > MAX_OBJECT_NAME {
            return Err(NameError::TooLong {
                len: name.len(),
                max: MAX_OBJECT_NAME,
            });
        }
        Ok(ObjectName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_keeps_slashes() {
        assert_eq!(encode_path("a/b c/d"), "a/b%20c/d");
    }

    #[test]
    fn encode_escapes_reserved_characters() {
        assert_eq!(encode_path("q?#&=;+.txt"), "q%3F%23%26%3D%3B%2B.txt");
    }

    #[test]
    fn encode_keeps_literal_percent_escape() {
        assert_eq!(encode_path("pct%25lit.txt"), "pct%2525lit.txt");
    }

    #[test]
    fn encode_utf8_bytes() {
        assert_eq!(encode_path("ü"), "%C3%BC");
    }

    #[test]
    fn encode_empty_segments_survive() {
        assert_eq!(encode_path("a//b"), "a//b");
    }

    #[test]
    fn container_name_rejects_slash() {
        assert_eq!(ContainerName::new("a/b"), Err(NameError::Slash));
    }

    #[test]
    fn container_name_rejects_long() {
        let name = "c".repeat(257);
        assert!(matches!(
            ContainerName::new(&name),
            Err(NameError::TooLong { len: 257, .. })
        ));
    }

    #[test]
    fn object_name_limit_is_1024_bytes() {
        assert!(ObjectName::new(&"o".repeat(1024)).is_ok());
        assert!(ObjectName::new(&"o".repeat(1025)).is_err());
    }
}
