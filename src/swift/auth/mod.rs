//! Authentication protocols. Each one turns configured credentials into the
//! same result: a token for `X-Auth-Token`, the storage URL of the account,
//! and the expiry time when the identity service gives one.
//!
//! The protocols do not cache or renew anything; `swift::token` owns the
//! current token and decides when to call `Authenticator::authenticate`.

pub mod catalog;
pub mod keystone_v2;
pub mod keystone_v3;
pub mod preauth;
pub mod v1;

mod request;
#[cfg(test)]
mod test_server;
#[cfg(test)]
mod tests;

use std::fmt;
use std::time::SystemTime;

use secrecy::SecretString;

/// The endpoint interface picked from a Keystone service catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interface {
    Public,
    Internal,
    Admin,
}

impl Interface {
    /// Parses the values that `OS_INTERFACE` and `OS_ENDPOINT_TYPE` take:
    /// `public`, `internal`, `admin`, with or without the v2.0 `URL` suffix.
    pub fn parse(value: &str) -> Option<Interface> {
        let lower = value.to_ascii_lowercase();
        match lower.trim_end_matches("url") {
            "public" => Some(Interface::Public),
            "internal" => Some(Interface::Internal),
            "admin" => Some(Interface::Admin),
            _ => None,
        }
    }

    /// Returns the v3 catalog spelling (`public`).
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }

    /// Returns the v2.0 catalog field (`publicURL`).
    pub fn v2_field(self) -> &'static str {
        match self {
            Interface::Public => "publicURL",
            Interface::Internal => "internalURL",
            Interface::Admin => "adminURL",
        }
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The selection of the object-store endpoint in a catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointFilter {
    /// `None` accepts any region only when the catalog has exactly one.
    pub region: Option<String>,
    pub interface: Interface,
}

/// A Keystone entity (user, project, domain) given by name or by id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameOrId {
    Name(String),
    Id(String),
}

impl fmt::Display for NameOrId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameOrId::Name(name) => write!(f, "name {name:?}"),
            NameOrId::Id(id) => write!(f, "id {id:?}"),
        }
    }
}

/// The proof of identity in a Keystone v3 request.
#[derive(Clone, Debug)]
pub enum V3Identity {
    Password {
        user: NameOrId,
        /// Required by Keystone when the user is given by name.
        user_domain: Option<NameOrId>,
        password: SecretString,
    },
    ApplicationCredential {
        /// The credential's id, or its name (which then needs `user`).
        credential: NameOrId,
        /// The owner, required when the credential is given by name.
        user: Option<NameOrId>,
        user_domain: Option<NameOrId>,
        secret: SecretString,
    },
}

/// The project a Keystone v3 token is scoped to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V3Project {
    pub project: NameOrId,
    /// Required by Keystone when the project is given by name.
    pub domain: Option<NameOrId>,
}

/// Configured credentials for one of the supported protocols.
#[derive(Clone, Debug)]
pub enum AuthConfig {
    /// Swift v1 (tempauth, swauth and compatible providers).
    V1 {
        auth_url: String,
        /// `account:user`.
        user: String,
        key: SecretString,
    },
    KeystoneV2 {
        /// The v2.0 base, such as `https://auth.example/v2.0`.
        auth_url: String,
        username: String,
        password: SecretString,
        tenant: NameOrId,
        endpoint: EndpointFilter,
    },
    KeystoneV3 {
        /// The v3 base, such as `https://auth.example/v3`.
        auth_url: String,
        identity: V3Identity,
        /// Application credentials carry their own scope, so this may be `None`.
        project: Option<V3Project>,
        endpoint: EndpointFilter,
    },
    /// A token obtained elsewhere; nothing can renew it.
    PreAuthenticated {
        token: SecretString,
        storage_url: String,
    },
}

/// The result that every protocol returns.
#[derive(Clone, Debug)]
pub struct AuthToken {
    pub token: SecretString,
    pub storage_url: String,
    /// `None` when the server gave no expiry.
    pub expires_at: Option<SystemTime>,
}

/// Why authentication failed. Every variant names the URL and, where one
/// exists, the user, so that the message shows the user what to fix.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The identity service returned 401 or 403: the credentials are wrong,
    /// and retrying cannot help.
    #[error("authentication rejected by {url} for user {user} (HTTP {status}): check the user name, password or key and the project/domain settings")]
    Rejected {
        url: String,
        user: String,
        status: u16,
    },
    /// No connection, a timeout, or a TLS failure.
    #[error(
        "cannot reach the identity service at {url}: {}; check OS_AUTH_URL and the network",
        super::error::error_chain(source)
    )]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// Any other status from the identity service.
    #[error("identity service {url} answered HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    /// The response lacks something the protocol needs, or is not JSON.
    #[error("invalid answer from identity service {url}: {what}")]
    InvalidResponse { url: String, what: String },
    /// The catalog has no object-store endpoint matching the filter.
    #[error("no object-store endpoint for region {region} and interface {interface} in the catalog of {url}; available: {available}. Set OS_REGION_NAME / OS_INTERFACE (or --region / --interface) to one of these")]
    NoEndpoint {
        url: String,
        region: String,
        interface: Interface,
        /// `region/interface` pairs the catalog does have, comma separated.
        available: String,
    },
    /// The pre-authenticated token was rejected or has expired.
    #[error("the pre-authenticated token (OS_AUTH_TOKEN) was rejected or has expired and cannot be renewed; obtain a new token or configure credentials instead")]
    TokenExpired,
}

/// One configured protocol, ready to authenticate any number of times.
pub trait Authenticator: Send + Sync {
    /// Sends one authentication request (no retries, no caching).
    fn authenticate(&self) -> Result<AuthToken, AuthError>;

    /// A description for logs and errors, such as
    /// `Keystone v3 at http://127.0.0.1:5000/v3 as user "demo"`. Never a secret.
    fn describe(&self) -> String;

    /// `false` for a pre-authenticated token, which cannot be renewed.
    fn can_renew(&self) -> bool {
        true
    }
}

/// Builds the authenticator for `config`. `storage_url_override` replaces the
/// storage URL that the protocol finds, for providers with a wrong catalog.
pub fn authenticator(
    config: AuthConfig,
    http: reqwest::blocking::Client,
    storage_url_override: Option<String>,
) -> Box<dyn Authenticator> {
    let inner: Box<dyn Authenticator> = match config {
        AuthConfig::V1 {
            auth_url,
            user,
            key,
        } => Box::new(v1::V1Auth::new(http, auth_url, user, key)),
        AuthConfig::KeystoneV2 {
            auth_url,
            username,
            password,
            tenant,
            endpoint,
        } => Box::new(keystone_v2::KeystoneV2Auth::new(
            http, auth_url, username, password, tenant, endpoint,
        )),
        AuthConfig::KeystoneV3 {
            auth_url,
            identity,
            project,
            endpoint,
        } => Box::new(keystone_v3::KeystoneV3Auth::new(
            http, auth_url, identity, project, endpoint,
        )),
        AuthConfig::PreAuthenticated { token, storage_url } => {
            Box::new(preauth::PreAuthenticated::new(token, storage_url))
        }
    };
    match storage_url_override {
        Some(url) => Box::new(StorageUrlOverride { inner, url }),
        None => inner,
    }
}

/// Replaces the storage URL returned by another authenticator.
struct StorageUrlOverride {
    inner: Box<dyn Authenticator>,
    url: String,
}

impl Authenticator for StorageUrlOverride {
    fn authenticate(&self) -> Result<AuthToken, AuthError> {
        let mut token = self.inner.authenticate()?;
        token.storage_url = self.url.clone();
        Ok(token)
    }

    fn describe(&self) -> String {
        format!("{} with storage URL {}", self.inner.describe(), self.url)
    }

    fn can_renew(&self) -> bool {
        self.inner.can_renew()
    }
}
