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
    /// Time allowed for one whole request, body included. Object reads are
    /// split into ranges of a few MiB, so this bounds each range, not a file.
    pub request_timeout: Duration,
    /// Extra PEM certificate(s) to trust, for private certificate authorities.
    pub ca_bundle: Option<PathBuf>,
    /// Skip TLS certificate verification (for test setups only).
    pub insecure: bool,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            ca_bundle: None,
            insecure: false,
        }
    }
}

/// Builds the shared blocking client.
pub fn build_client(config: &HttpConfig) -> Result<reqwest::blocking::Client, String> {
    let mut builder = reqwest::blocking::Client::builder()
        .user_agent(concat!("swiftmount/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
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
