//! The filesystem layer's error, and the one place where errors become errno.

use std::sync::Arc;

use crate::swift::auth::AuthError;
use crate::swift::SwiftError;

#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("no such file or directory: {0}")]
    NotFound(String),
    #[error("not a directory: {0}")]
    NotDirectory(String),
    #[error("is a directory: {0}")]
    IsDirectory(String),
    #[error("name longer than 255 bytes: {0}")]
    NameTooLong(String),
    #[error("name is not valid UTF-8, which Swift requires: {0}")]
    InvalidName(String),
    #[error("read-only file system: {0}")]
    ReadOnly(String),
    #[error("unknown inode {0}")]
    UnknownInode(u64),
    #[error("unknown file handle {0}")]
    UnknownHandle(u64),
    /// Extended attributes are not stored; only the mount root's counters
    /// exist.
    #[error("extended attributes are not supported: {0}")]
    NoAttribute(String),
    #[error("buffer too small for extended attribute: {0}")]
    BufferTooSmall(String),
    #[error("operation not permitted: {0}")]
    NotPermitted(String),
    #[error("directory not empty: {0}")]
    NotEmpty(String),
    #[error("already exists: {0}")]
    Exists(String),
    #[error("containers cannot be renamed in Swift: {0}")]
    CrossDevice(String),
    #[error(
        "file larger than 1000 segments of --segment-size, the most one large object holds: {0}"
    )]
    TooLarge(String),
    #[error("staging file error for {path}: {source}")]
    Staging {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A read of an open file failed. The reader logs the first failure of
    /// each handle itself, with Swift's transaction id.
    #[error("read of {path} at offset {offset} failed: {source}")]
    ReadFailed {
        path: String,
        offset: u64,
        source: Arc<SwiftError>,
    },
    #[error(transparent)]
    Swift(#[from] SwiftError),
}

impl FsError {
    /// The errno for the kernel. Every variant is listed, without a catch-all,
    /// so a new variant needs a decision here.
    pub fn errno(&self) -> i32 {
        match self {
            FsError::NotFound(_) => libc::ENOENT,
            FsError::NotDirectory(_) => libc::ENOTDIR,
            FsError::IsDirectory(_) => libc::EISDIR,
            FsError::NameTooLong(_) => libc::ENAMETOOLONG,
            FsError::InvalidName(_) => libc::EILSEQ,
            FsError::ReadOnly(_) => libc::EROFS,
            // The kernel asked about an inode or handle we never gave out,
            // or one we already forgot: a bug, not a user error.
            FsError::UnknownInode(_) | FsError::UnknownHandle(_) => libc::EBADF,
            // Not ENODATA: after ENODATA, `ls -l` asks every file again for
            // its SELinux label and ACL (two requests per file), while after
            // EOPNOTSUPP it stops asking for the rest of the filesystem.
            FsError::NoAttribute(_) => libc::EOPNOTSUPP,
            FsError::BufferTooSmall(_) => libc::ERANGE,
            FsError::NotPermitted(_) => libc::EPERM,
            FsError::NotEmpty(_) => libc::ENOTEMPTY,
            FsError::Exists(_) => libc::EEXIST,
            // mv falls back to copying and deleting on EXDEV.
            FsError::CrossDevice(_) => libc::EXDEV,
            FsError::TooLarge(_) => libc::EFBIG,
            FsError::Staging { .. } => libc::EIO,
            FsError::ReadFailed { source, .. } => swift_errno(source),
            FsError::Swift(error) => swift_errno(error),
        }
    }

    /// `true` for outcomes that are part of normal operation (a lookup of a
    /// name that does not exist), logged at debug rather than warn. Failed
    /// reads count too, because the reader has logged them already.
    pub fn is_expected(&self) -> bool {
        matches!(
            self,
            FsError::NotFound(_)
                | FsError::NoAttribute(_)
                | FsError::BufferTooSmall(_)
                | FsError::ReadFailed { .. }
                | FsError::Swift(SwiftError::NotFound { .. })
        )
    }
}

fn swift_errno(error: &SwiftError) -> i32 {
    match error {
        SwiftError::NotFound { .. } => libc::ENOENT,
        SwiftError::Forbidden { .. } => libc::EACCES,
        SwiftError::Conflict { .. } => libc::ENOTEMPTY,
        // The object changed while open: the reader must not get a mix of
        // two versions, and there is no errno closer to "stale" for files.
        SwiftError::PreconditionFailed { .. } => libc::EIO,
        SwiftError::RangeNotSatisfiable { .. } => libc::EIO,
        SwiftError::TooLarge { .. } => libc::EDQUOT,
        SwiftError::Status { .. } => libc::EIO,
        SwiftError::Transport { .. } => libc::EIO,
        SwiftError::InvalidResponse { .. } => libc::EIO,
        SwiftError::Auth(auth) => match auth.as_ref() {
            AuthError::Rejected { .. } | AuthError::TokenExpired => libc::EACCES,
            AuthError::Unreachable { .. }
            | AuthError::Status { .. }
            | AuthError::InvalidResponse { .. }
            | AuthError::NoEndpoint { .. } => libc::EIO,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swift_not_found_is_enoent() {
        let error = FsError::Swift(SwiftError::NotFound { path: "c/o".into() });
        assert_eq!(error.errno(), libc::ENOENT);
        assert!(error.is_expected());
    }

    #[test]
    fn swift_forbidden_is_eacces() {
        let error = FsError::Swift(SwiftError::Forbidden {
            path: "c".into(),
            status: 403,
        });
        assert_eq!(error.errno(), libc::EACCES);
        assert!(!error.is_expected());
    }

    #[test]
    fn rejected_credentials_are_eacces() {
        let auth = AuthError::Rejected {
            url: "u".into(),
            user: "x".into(),
            status: 401,
        };
        let error = FsError::Swift(SwiftError::Auth(std::sync::Arc::new(auth)));
        assert_eq!(error.errno(), libc::EACCES);
    }

    #[test]
    fn changed_object_read_is_eio() {
        let error = FsError::ReadFailed {
            path: "c/o".into(),
            offset: 0,
            source: Arc::new(SwiftError::PreconditionFailed {
                path: "c/o".into(),
                trans_id: "tx1".into(),
            }),
        };
        assert_eq!(error.errno(), libc::EIO);
    }

    #[test]
    fn server_error_is_eio() {
        let error = FsError::Swift(SwiftError::Status {
            method: "GET",
            path: "c/o".into(),
            status: 503,
            trans_id: "tx".into(),
        });
        assert_eq!(error.errno(), libc::EIO);
    }
}
