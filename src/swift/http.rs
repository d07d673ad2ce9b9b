//! Construction of the one HTTP client shared by authentication and Swift
//! requests, so that both use the same connection pool, TLS settings and
//! timeouts.

use std::path::PathBuf;
use std::time::Duration;

/// Transport settings, from the command line.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Time allowed to open a TCP and TLS connection.
    pub connect_timeout: Duration,
    /// Time allowed from sending a request until its response head
    /// arrives, and for each read of the body after that, so that a server
    /// that stops sending is detected without waiting for a whole-request
    /// limit. The limit on a whole Swift request is
    /// `RetryPolicy::request_timeout`.
    pub read_timeout: Duration,
    /// Extra PEM certificate(s) to trust, for private certificate authorities.
    pub ca_bundle: Option<PathBuf>,
    /// Skip TLS certificate verification (for test setups only).
    pub insecure: bool,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            ca_bundle: None,
            insecure: false,
        }
    }
}

/// Builds the shared blocking client.
pub fn build_client(config: &HttpConfig) -> Result<reqwest::blocking::Client, String> {
    // The blocking client applies its timeout to each wait on its own: for
    // the response head, then for each `Read::read` of the body (or for the
    // whole body with `bytes()`), which makes it a read timeout. The async
    // client's `read_timeout` cannot be used instead, because its timer
    // panics when a blocking caller reads the body outside the runtime.
    let mut builder = reqwest::blocking::Client::builder()
        .user_agent(concat!("swiftmount/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(config.connect_timeout)
        .timeout(config.read_timeout)
        .pool_max_idle_per_host(32)
        .tcp_nodelay(true);
    if let Some(path) = &config.ca_bundle {
        let pem = std::fs::read(path)
            .map_err(|err| format!("cannot read CA bundle {}: {err}", path.display()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|err| format!("invalid PEM in CA bundle {}: {err}", path.display()))?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    if config.insecure {
        log::warn!("TLS certificate verification is disabled (--insecure): any server can impersonate Swift");
        builder = builder.danger_accept_invalid_certs(true);
    }
    builder
        .build()
        .map_err(|err| format!("cannot build the HTTP client: {err}"))
}
