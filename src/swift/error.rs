//! The one error type of the Swift layer. `fs::error` maps it to errno.

use std::sync::Arc;

use super::auth::AuthError;

#[derive(Debug, thiserror::Error)]
pub enum SwiftError {
    /// 404 on the named container or object.
    #[error("not found: {path}")]
    NotFound { path: String },

    /// 401 even after one re-authentication, or 403: the token is valid but
    /// the user lacks the permission.
    #[error("permission denied by Swift (HTTP {status}) on {path}")]
    Forbidden { path: String, status: u16 },

    /// 409, for example deleting a container that still contains objects.
    #[error("conflict (HTTP 409) on {path}")]
    Conflict { path: String },

    /// 412 on a conditional request: the object changed since it was opened.
    #[error(
        "precondition failed (HTTP 412) on {path}: the object changed (transaction {trans_id})"
    )]
    PreconditionFailed { path: String, trans_id: String },

    /// 413 on an upload: over a container or account quota, or larger than
    /// the cluster's `max_file_size`.
    #[error(
        "upload rejected as too large (HTTP 413) on {path}: over a quota or the object size limit"
    )]
    TooLarge { path: String },

    /// 416: the requested range starts past the end of the object.
    #[error("range not satisfiable (HTTP 416) on {path}")]
    RangeNotSatisfiable { path: String },

    /// Any other unexpected status.
    #[error("HTTP {status} on {method} {path} (transaction {trans_id})")]
    Status {
        method: &'static str,
        path: String,
        status: u16,
        trans_id: String,
    },

    /// The connection failed, timed out, or the body broke off.
    #[error("request {method} {path} failed: {source}")]
    Transport {
        method: &'static str,
        path: String,
        #[source]
        source: reqwest::Error,
    },

    /// The response could not be parsed (bad JSON, a missing header).
    #[error("invalid answer to {method} {path}: {what}")]
    InvalidResponse {
        method: &'static str,
        path: String,
        what: String,
    },

    /// Authentication failed; see `AuthError` for the reason.
    /// Shared, because one failed authentication fails every waiting request.
    #[error(transparent)]
    Auth(Arc<AuthError>),
}

impl SwiftError {
    /// `true` for errors worth a retry: transport failures and server-side
    /// statuses that are commonly transient (5xx, 408, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            SwiftError::Transport { .. } => true,
            SwiftError::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            _ => false,
        }
    }

    /// Swift's transaction id (`X-Trans-Id`) of the response that caused the
    /// error, for errors that come from a response and carry one.
    pub fn trans_id(&self) -> Option<&str> {
        match self {
            SwiftError::PreconditionFailed { trans_id, .. }
            | SwiftError::Status { trans_id, .. } => Some(trans_id),
            _ => None,
        }
    }
}

/// Formats an error with its causes, because reqwest keeps the useful part
/// (connection refused, timed out, certificate rejected, unexpected end of
/// body) in the source chain. Causes already quoted in the text are skipped.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
