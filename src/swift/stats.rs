//! Request counters: how many requests of each kind the mount sent, with
//! bytes, errors and retries. An error is a request that failed after its
//! retries; a 404 is a normal result, not an error. Tests and benchmarks read them through the
//! `user.swiftmount.stats` extended attribute of the mount root.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// The kinds of request counted separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    Head,
    Get,
    Listing,
    Put,
    Post,
    Copy,
    Delete,
}

impl RequestKind {
    const ALL: [RequestKind; 7] = [
        RequestKind::Head,
        RequestKind::Get,
        RequestKind::Listing,
        RequestKind::Put,
        RequestKind::Post,
        RequestKind::Copy,
        RequestKind::Delete,
    ];

    fn name(self) -> &'static str {
        match self {
            RequestKind::Head => "head",
            RequestKind::Get => "get",
            RequestKind::Listing => "listing",
            RequestKind::Put => "put",
            RequestKind::Post => "post",
            RequestKind::Copy => "copy",
            RequestKind::Delete => "delete",
        }
    }
}

#[derive(Default)]
pub struct Stats {
    requests: [AtomicU64; 7],
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    errors: AtomicU64,
    retries: AtomicU64,
}

impl Stats {
    pub fn count_request(&self, kind: RequestKind) {
        let index = RequestKind::ALL
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(0);
        self.requests[index].fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_bytes_in(&self, bytes: u64) {
        self.bytes_in.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn count_bytes_out(&self, bytes: u64) {
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn count_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn requests(&self, kind: RequestKind) -> u64 {
        let index = RequestKind::ALL
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(0);
        self.requests[index].load(Ordering::Relaxed)
    }

    /// Renders `name=value` pairs separated by spaces, with `auth` given by
    /// the token manager: `auth=1 head=0 get=3 … bytes_in=123 …`.
    pub fn render(&self, authentications: u64) -> String {
        let mut out = format!("auth={authentications}");
        for (index, kind) in RequestKind::ALL.iter().enumerate() {
            let _ = write!(
                out,
                " {}={}",
                kind.name(),
                self.requests[index].load(Ordering::Relaxed)
            );
        }
        let _ = write!(
            out,
            " bytes_in={} bytes_out={} errors={} retries={}",
            self.bytes_in.load(Ordering::Relaxed),
            self.bytes_out.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
            self.retries.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_every_counter() {
        let stats = Stats::default();
        stats.count_request(RequestKind::Listing);
        stats.count_request(RequestKind::Listing);
        stats.count_bytes_in(10);
        assert_eq!(
            stats.render(1),
            "auth=1 head=0 get=0 listing=2 put=0 post=0 copy=0 delete=0 bytes_in=10 bytes_out=0 errors=0 retries=0"
        );
    }
}
