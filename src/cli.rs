//! Command-line options and OpenStack RC environment variables, turned into
//! the typed configuration of each layer. Every flag can also come from the
//! `OS_*` variable named in its help; a flag wins over a variable.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use secrecy::SecretString;

use crate::fs::attr::{CacheTtls, Ownership};
use crate::fs::reader::ReadConfig;
use crate::fs::Root;
use crate::swift::auth::{AuthConfig, EndpointFilter, Interface, NameOrId, V3Identity, V3Project};
use crate::swift::client::RetryPolicy;
use crate::swift::http::HttpConfig;
use crate::swift::path::ContainerName;

/// Keystone domain assumed when none is configured, as most clouds name it.
pub const DEFAULT_DOMAIN: &str = "Default";

#[derive(Parser, Debug)]
#[command(
    name = "swiftmount",
    version,
    about = "Mount OpenStack Swift object storage as a filesystem",
    long_about = "Mount OpenStack Swift object storage as a filesystem.\n\n\
        Containers appear as directories and objects as files; '/' in object names makes \
        subdirectories. Credentials come from the OpenStack RC variables (OS_AUTH_URL, \
        OS_USERNAME, OS_PASSWORD, ...) or the flags below. swiftmount runs in the \
        foreground and unmounts on Ctrl-C or SIGTERM."
)]
pub struct Args {
    /// Directory to mount on; it must exist.
    pub mountpoint: PathBuf,

    /// Mount only this container instead of the whole account.
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,

    // ----- authentication -----
    /// Identity service URL: Keystone (.../v3, .../v2.0) or Swift v1 auth (.../auth/v1.0).
    /// Also read from ST_AUTH.
    #[arg(long, env = "OS_AUTH_URL", help_heading = "Authentication")]
    pub auth_url: Option<String>,

    /// Authentication protocol: 1 (Swift v1/tempauth), 2 (Keystone v2.0) or 3 (Keystone v3).
    /// Default: taken from the auth URL's path.
    #[arg(long, env = "OS_IDENTITY_API_VERSION", help_heading = "Authentication")]
    pub auth_version: Option<String>,

    /// User name; for Swift v1, "account:user". Also read from ST_USER.
    #[arg(long, env = "OS_USERNAME", help_heading = "Authentication")]
    pub username: Option<String>,

    /// User id (Keystone v3), instead of a user name.
    #[arg(long, env = "OS_USER_ID", help_heading = "Authentication")]
    pub user_id: Option<String>,

    /// Password, or the key for Swift v1. Also read from ST_KEY. Prefer the
    /// environment or --password-file: a flag is visible in the process list.
    #[arg(
        long,
        env = "OS_PASSWORD",
        hide_env_values = true,
        help_heading = "Authentication"
    )]
    pub password: Option<String>,

    /// File whose first line is the password.
    #[arg(long, value_name = "PATH", help_heading = "Authentication")]
    pub password_file: Option<PathBuf>,

    /// User domain name (Keystone v3). Default: "Default".
    #[arg(long, env = "OS_USER_DOMAIN_NAME", help_heading = "Authentication")]
    pub user_domain_name: Option<String>,

    /// User domain id (Keystone v3), instead of its name.
    #[arg(long, env = "OS_USER_DOMAIN_ID", help_heading = "Authentication")]
    pub user_domain_id: Option<String>,

    /// Project (tenant) name. Also read from OS_TENANT_NAME.
    #[arg(long, env = "OS_PROJECT_NAME", help_heading = "Authentication")]
    pub project_name: Option<String>,

    /// Project (tenant) id, instead of its name. Also read from OS_TENANT_ID.
    #[arg(long, env = "OS_PROJECT_ID", help_heading = "Authentication")]
    pub project_id: Option<String>,

    /// Project domain name (Keystone v3). Default: the user's domain.
    #[arg(long, env = "OS_PROJECT_DOMAIN_NAME", help_heading = "Authentication")]
    pub project_domain_name: Option<String>,

    /// Project domain id (Keystone v3), instead of its name.
    #[arg(long, env = "OS_PROJECT_DOMAIN_ID", help_heading = "Authentication")]
    pub project_domain_id: Option<String>,

    /// Application credential id (Keystone v3).
    #[arg(
        long,
        env = "OS_APPLICATION_CREDENTIAL_ID",
        help_heading = "Authentication"
    )]
    pub application_credential_id: Option<String>,

    /// Application credential name (Keystone v3); needs the user name or id.
    #[arg(
        long,
        env = "OS_APPLICATION_CREDENTIAL_NAME",
        help_heading = "Authentication"
    )]
    pub application_credential_name: Option<String>,

    /// Application credential secret (Keystone v3).
    #[arg(
        long,
        env = "OS_APPLICATION_CREDENTIAL_SECRET",
        hide_env_values = true,
        help_heading = "Authentication"
    )]
    pub application_credential_secret: Option<String>,

    /// Region of the object-store endpoint in the Keystone catalog. Needed
    /// when the catalog has more than one region.
    #[arg(long, env = "OS_REGION_NAME", help_heading = "Authentication")]
    pub region: Option<String>,

    /// Endpoint interface in the Keystone catalog: public, internal or admin.
    /// Also read from OS_ENDPOINT_TYPE (publicURL, internalURL, adminURL).
    #[arg(long, env = "OS_INTERFACE", help_heading = "Authentication")]
    pub interface: Option<String>,

    /// A token obtained elsewhere; with --storage-url and no password, no
    /// authentication is made (and none can renew the token).
    #[arg(
        long,
        env = "OS_AUTH_TOKEN",
        hide_env_values = true,
        help_heading = "Authentication"
    )]
    pub auth_token: Option<String>,

    /// Storage URL (https://host/v1/AUTH_project). With credentials, it
    /// replaces the one found in the catalog.
    #[arg(long, env = "OS_STORAGE_URL", help_heading = "Authentication")]
    pub storage_url: Option<String>,

    /// Mount read-only: every change fails with EROFS.
    #[arg(long)]
    pub read_only: bool,

    /// Files larger than this many bytes are uploaded as Static Large
    /// Objects made of segments of this size, stored in the container
    /// <container>_segments. Swift's default single-object limit is 5 GiB,
    /// and a file may have at most 1000 segments.
    #[arg(long, default_value_t = 1024 * 1024 * 1024, value_name = "BYTES")]
    pub segment_size: u64,

    /// Directory for files being written, staged there until they are
    /// uploaded at close. Each mount uses a private (0700) subdirectory.
    /// Default: the system temporary directory ($TMPDIR or /tmp).
    #[arg(long, value_name = "DIR")]
    pub staging_dir: Option<PathBuf>,

    // ----- ownership and permissions -----
    /// Let users other than the one mounting access the mount (needs
    /// user_allow_other in /etc/fuse.conf when not root).
    #[arg(long, help_heading = "Permissions")]
    pub allow_other: bool,

    /// Owner of every file and directory. Default: the user running swiftmount.
    #[arg(long, help_heading = "Permissions")]
    pub uid: Option<u32>,

    /// Group of every file and directory. Default: the group running swiftmount.
    #[arg(long, help_heading = "Permissions")]
    pub gid: Option<u32>,

    /// Permission bits of files, in octal.
    #[arg(long, default_value = "644", value_parser = parse_mode, help_heading = "Permissions")]
    pub file_mode: u16,

    /// Permission bits of directories, in octal.
    #[arg(long, default_value = "755", value_parser = parse_mode, help_heading = "Permissions")]
    pub dir_mode: u16,

    // ----- caching -----
    /// Seconds that file and directory attributes are cached.
    #[arg(
        long,
        default_value_t = 10.0,
        value_name = "SECONDS",
        help_heading = "Caching"
    )]
    pub attr_ttl: f64,

    /// Seconds that directory listings are cached.
    #[arg(
        long,
        default_value_t = 10.0,
        value_name = "SECONDS",
        help_heading = "Caching"
    )]
    pub dir_ttl: f64,

    /// Seconds that a name found missing is remembered as missing.
    #[arg(
        long,
        default_value_t = 5.0,
        value_name = "SECONDS",
        help_heading = "Caching"
    )]
    pub negative_ttl: f64,

    /// Report X-Object-Meta-Mtime (set by rsync -t through the mount,
    /// python-swiftclient and rclone) as the modification time. Costs one
    /// HEAD per file, since listings do not carry it.
    #[arg(long, help_heading = "Caching")]
    pub use_meta_mtime: bool,

    /// Entries per listing request. Default: container_listing_limit from
    /// the cluster's /info, or 10000.
    #[arg(long, value_name = "COUNT", help_heading = "Caching")]
    pub listing_limit: Option<usize>,

    // ----- reading -----
    // The defaults are those of `ReadConfig::default`, which gives the reasons.
    /// Objects up to this many bytes are fetched whole at the first read.
    #[arg(long, default_value_t = ReadConfig::default().small_file_max, value_name = "BYTES", help_heading = "Reading")]
    pub small_file_max: u64,

    /// Bytes fetched by the first read of a larger object, and after a seek.
    #[arg(long, default_value_t = ReadConfig::default().first_window, value_name = "BYTES", help_heading = "Reading")]
    pub first_read: u64,

    /// Largest readahead window per open file, in bytes: how far ahead of a
    /// sequential reader ranges are requested. The window starts at
    /// --first-read and doubles with each sequential read.
    #[arg(long, default_value_t = ReadConfig::default().max_window, value_name = "BYTES", help_heading = "Reading")]
    pub max_readahead: u64,

    /// Threads that fetch ranges ahead of sequential readers, shared by all
    /// open files. 0 turns prefetch off: a read that misses then fetches the
    /// whole window itself, one request at a time per file.
    #[arg(long, default_value_t = ReadConfig::default().prefetch_threads, value_name = "COUNT", help_heading = "Reading")]
    pub prefetch_threads: usize,

    /// Most prefetched bytes held per open file (queued, downloading or not
    /// yet read). At the cap, prefetch waits until the reader catches up.
    #[arg(long, default_value_t = ReadConfig::default().file_prefetch_max, value_name = "BYTES", help_heading = "Reading")]
    pub prefetch_per_file: u64,

    /// Most prefetched bytes held by all open files together.
    #[arg(long, default_value_t = ReadConfig::default().total_prefetch_max, value_name = "BYTES", help_heading = "Reading")]
    pub prefetch_total: u64,

    // ----- network -----
    /// Seconds allowed to open a connection.
    #[arg(
        long,
        default_value_t = 10.0,
        value_name = "SECONDS",
        help_heading = "Network"
    )]
    pub connect_timeout: f64,

    /// Seconds allowed from sending a request until the first byte of the
    /// response, and then between two reads of its body.
    #[arg(
        long,
        default_value_t = 30.0,
        value_name = "SECONDS",
        help_heading = "Network"
    )]
    pub read_timeout: f64,

    /// Seconds allowed for one request, body included; checked as the
    /// body arrives.
    #[arg(
        long,
        default_value_t = 60.0,
        value_name = "SECONDS",
        help_heading = "Network"
    )]
    pub request_timeout: f64,

    /// Attempts per request when Swift fails with a transient error (5xx,
    /// 408, 429, connection errors, timeouts), the first included.
    #[arg(
        long,
        default_value_t = 6,
        value_name = "COUNT",
        help_heading = "Network"
    )]
    pub attempts: u32,

    /// Seconds after the first attempt of a request past which no retry
    /// starts.
    #[arg(
        long,
        default_value_t = 60.0,
        value_name = "SECONDS",
        help_heading = "Network"
    )]
    pub retry_time: f64,

    /// PEM file of extra certificate authorities to trust.
    #[arg(long, value_name = "PATH", help_heading = "Network")]
    pub ca_bundle: Option<PathBuf>,

    /// Do not verify TLS certificates. Unsafe outside of tests.
    #[arg(long, help_heading = "Network")]
    pub insecure: bool,

    // ----- process -----
    /// Threads serving kernel requests.
    #[arg(long, default_value_t = 8, value_name = "COUNT")]
    pub threads: usize,

    /// Log every HTTP request (same as RUST_LOG=swiftmount=debug).
    #[arg(long)]
    pub debug: bool,
}

fn parse_mode(value: &str) -> Result<u16, String> {
    let mode = u16::from_str_radix(value, 8)
        .map_err(|_| format!("invalid mode {value:?}: expected octal digits such as 644"))?;
    if mode > 0o7777 {
        return Err(format!("invalid mode {value:?}: larger than 7777"));
    }
    Ok(mode)
}

/// Everything `main` needs to build the mount.
#[derive(Debug)]
pub struct Settings {
    pub mountpoint: PathBuf,
    pub auth: AuthConfig,
    pub storage_url_override: Option<String>,
    pub http: HttpConfig,
    pub retry: RetryPolicy,
    pub root: Root,
    pub owner: Ownership,
    pub ttls: CacheTtls,
    pub listing_limit: Option<usize>,
    pub read: ReadConfig,
    pub allow_other: bool,
    pub threads: usize,
    pub read_only: bool,
    pub staging_dir: PathBuf,
    pub use_meta_mtime: bool,
    pub segment_size: u64,
}

/// A lookup of environment variables, so tests need not touch the process's.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment; empty values count as unset.
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|value| !value.is_empty())
    }
}

fn seconds(value: f64, flag: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| format!("invalid --{flag} {value}: expected seconds, 0 or more"))
}

impl Args {
    /// Checks the options and builds the settings. Errors name the value and
    /// the variable or flag to fix.
    pub fn into_settings(mut self, env: &dyn Environment) -> Result<Settings, String> {
        self.apply_fallback_variables(env);
        let password = self.read_password()?;

        let root = match &self.container {
            None => Root::Account,
            Some(name) => Root::Container(
                ContainerName::new(name)
                    .map_err(|err| format!("invalid --container {name:?}: {err}"))?,
            ),
        };
        let storage_url_override = self.storage_url.clone();
        let auth = self.auth_config(password)?;
        let storage_url_override = match auth {
            AuthConfig::PreAuthenticated { .. } => None,
            _ => storage_url_override,
        };
        if self.segment_size == 0 || self.segment_size > 5 * 1024 * 1024 * 1024 {
            return Err(format!(
                "invalid --segment-size {}: expected 1 byte to 5 GiB (Swift's default object size limit)",
                self.segment_size
            ));
        }
        if self.threads == 0 {
            return Err("invalid --threads 0: at least 1 thread is needed".to_string());
        }
        if self.attempts == 0 {
            return Err("invalid --attempts 0: at least 1 attempt is needed".to_string());
        }
        if self.first_read == 0 || self.max_readahead < self.first_read {
            return Err(format!(
                "invalid --first-read {} / --max-readahead {}: both must be positive and --max-readahead at least --first-read",
                self.first_read, self.max_readahead
            ));
        }

        // SAFETY: getuid and getgid cannot fail and touch no memory.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        Ok(Settings {
            mountpoint: self.mountpoint.clone(),
            auth,
            storage_url_override,
            http: HttpConfig {
                connect_timeout: seconds(self.connect_timeout, "connect-timeout")?,
                read_timeout: seconds(self.read_timeout, "read-timeout")?,
                ca_bundle: self.ca_bundle.clone(),
                insecure: self.insecure,
            },
            retry: RetryPolicy {
                max_attempts: self.attempts,
                max_time: seconds(self.retry_time, "retry-time")?,
                request_timeout: seconds(self.request_timeout, "request-timeout")?,
                ..RetryPolicy::default()
            },
            root,
            owner: Ownership {
                uid: self.uid.unwrap_or(uid),
                gid: self.gid.unwrap_or(gid),
                file_mode: self.file_mode,
                dir_mode: self.dir_mode,
            },
            ttls: CacheTtls {
                attr: seconds(self.attr_ttl, "attr-ttl")?,
                dir: seconds(self.dir_ttl, "dir-ttl")?,
                negative: seconds(self.negative_ttl, "negative-ttl")?,
            },
            listing_limit: self.listing_limit.filter(|limit| *limit > 0),
            read: ReadConfig {
                small_file_max: self.small_file_max,
                first_window: self.first_read,
                max_window: self.max_readahead,
                prefetch_threads: self.prefetch_threads,
                file_prefetch_max: self.prefetch_per_file,
                total_prefetch_max: self.prefetch_total,
            },
            allow_other: self.allow_other,
            threads: self.threads,
            read_only: self.read_only,
            staging_dir: self.staging_dir.clone().unwrap_or_else(std::env::temp_dir),
            use_meta_mtime: self.use_meta_mtime,
            segment_size: self.segment_size,
        })
    }

    /// Fills options from the variables that clap does not read itself:
    /// python-swiftclient's `ST_*` and the Keystone v2.0 `OS_TENANT_*`.
    fn apply_fallback_variables(&mut self, env: &dyn Environment) {
        let fill = |field: &mut Option<String>, name: &str| {
            if field.is_none() {
                *field = env.var(name);
            }
        };
        fill(&mut self.auth_url, "ST_AUTH");
        fill(&mut self.username, "ST_USER");
        fill(&mut self.password, "ST_KEY");
        fill(&mut self.project_name, "OS_TENANT_NAME");
        fill(&mut self.project_id, "OS_TENANT_ID");
        fill(&mut self.interface, "OS_ENDPOINT_TYPE");
    }

    fn read_password(&self) -> Result<Option<SecretString>, String> {
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path)
                .map_err(|err| format!("cannot read --password-file {}: {err}", path.display()))?;
            let line = text.lines().next().unwrap_or("").to_string();
            return Ok(Some(SecretString::from(line)));
        }
        Ok(self.password.clone().map(SecretString::from))
    }

    fn auth_config(&self, password: Option<SecretString>) -> Result<AuthConfig, String> {
        if let (Some(token), Some(storage_url), None) =
            (&self.auth_token, &self.storage_url, &password)
        {
            if self.application_credential_secret.is_none() {
                return Ok(AuthConfig::PreAuthenticated {
                    token: SecretString::from(token.clone()),
                    storage_url: storage_url.clone(),
                });
            }
        }
        let auth_url = self.auth_url.clone().ok_or(
            "no identity service configured: set OS_AUTH_URL (or --auth-url), or OS_AUTH_TOKEN \
             with OS_STORAGE_URL for a pre-authenticated session",
        )?;
        match self.protocol(&auth_url)? {
            1 => self.v1_config(auth_url, password),
            2 => self.v2_config(auth_url, password),
            _ => self.v3_config(auth_url, password),
        }
    }

    /// The protocol version from OS_IDENTITY_API_VERSION, else from the URL.
    fn protocol(&self, auth_url: &str) -> Result<u8, String> {
        if let Some(version) = &self.auth_version {
            return match version.trim().trim_start_matches(['v', 'V']) {
                "1" | "1.0" => Ok(1),
                "2" | "2.0" => Ok(2),
                "3" | "3.0" => Ok(3),
                other => Err(format!(
                    "invalid OS_IDENTITY_API_VERSION {other:?}: expected 1 (Swift v1), 2 (Keystone v2.0) or 3 (Keystone v3)"
                )),
            };
        }
        let path = auth_url.trim_end_matches('/').to_ascii_lowercase();
        if path.ends_with("/v3") {
            Ok(3)
        } else if path.ends_with("/v2.0") {
            Ok(2)
        } else if path.ends_with("/v1.0") || path.ends_with("/auth") {
            Ok(1)
        } else {
            Err(format!(
                "cannot tell the authentication protocol from OS_AUTH_URL {auth_url:?}: \
                 set OS_IDENTITY_API_VERSION to 1 (Swift v1), 2 (Keystone v2.0) or 3 (Keystone v3)"
            ))
        }
    }

    fn v1_config(
        &self,
        auth_url: String,
        password: Option<SecretString>,
    ) -> Result<AuthConfig, String> {
        let user = self.username.clone().ok_or(
            "Swift v1 authentication needs a user: set OS_USERNAME or ST_USER (account:user)",
        )?;
        let key =
            password.ok_or("Swift v1 authentication needs a key: set OS_PASSWORD or ST_KEY")?;
        Ok(AuthConfig::V1 {
            auth_url,
            user,
            key,
        })
    }

    fn v2_config(
        &self,
        auth_url: String,
        password: Option<SecretString>,
    ) -> Result<AuthConfig, String> {
        let username = self
            .username
            .clone()
            .ok_or("Keystone v2.0 needs a user name: set OS_USERNAME")?;
        let password = password.ok_or("Keystone v2.0 needs a password: set OS_PASSWORD")?;
        let tenant = match (&self.project_id, &self.project_name) {
            (Some(id), _) => NameOrId::Id(id.clone()),
            (None, Some(name)) => NameOrId::Name(name.clone()),
            (None, None) => {
                return Err(
                    "Keystone v2.0 needs a tenant: set OS_TENANT_NAME or OS_TENANT_ID".to_string(),
                )
            }
        };
        Ok(AuthConfig::KeystoneV2 {
            auth_url,
            username,
            password,
            tenant,
            endpoint: self.endpoint_filter()?,
        })
    }

    fn v3_config(
        &self,
        auth_url: String,
        password: Option<SecretString>,
    ) -> Result<AuthConfig, String> {
        let user = match (&self.user_id, &self.username) {
            (Some(id), _) => Some(NameOrId::Id(id.clone())),
            (None, Some(name)) => Some(NameOrId::Name(name.clone())),
            (None, None) => None,
        };
        let user_domain = match (&self.user_domain_id, &self.user_domain_name) {
            (Some(id), _) => NameOrId::Id(id.clone()),
            (None, Some(name)) => NameOrId::Name(name.clone()),
            (None, None) => NameOrId::Name(DEFAULT_DOMAIN.to_string()),
        };
        let named_user_domain = match &user {
            Some(NameOrId::Name(_)) => Some(user_domain.clone()),
            _ => None,
        };

        let identity = if let Some(secret) = &self.application_credential_secret {
            let credential = match (&self.application_credential_id, &self.application_credential_name) {
                (Some(id), _) => NameOrId::Id(id.clone()),
                (None, Some(name)) => NameOrId::Name(name.clone()),
                (None, None) => {
                    return Err("OS_APPLICATION_CREDENTIAL_SECRET is set but neither OS_APPLICATION_CREDENTIAL_ID nor OS_APPLICATION_CREDENTIAL_NAME".to_string())
                }
            };
            if matches!(credential, NameOrId::Name(_)) && user.is_none() {
                return Err("an application credential given by name needs its owner: set OS_USERNAME or OS_USER_ID".to_string());
            }
            V3Identity::ApplicationCredential {
                credential,
                user: user.clone(),
                user_domain: named_user_domain,
                secret: SecretString::from(secret.clone()),
            }
        } else {
            V3Identity::Password {
                user: user.ok_or("Keystone v3 needs a user: set OS_USERNAME or OS_USER_ID")?,
                user_domain: named_user_domain,
                password: password.ok_or("Keystone v3 needs a password: set OS_PASSWORD")?,
            }
        };

        let project = match (&self.project_id, &self.project_name) {
            (Some(id), _) => Some(V3Project {
                project: NameOrId::Id(id.clone()),
                domain: None,
            }),
            (None, Some(name)) => Some(V3Project {
                project: NameOrId::Name(name.clone()),
                domain: Some(match (&self.project_domain_id, &self.project_domain_name) {
                    (Some(id), _) => NameOrId::Id(id.clone()),
                    (None, Some(name)) => NameOrId::Name(name.clone()),
                    (None, None) => user_domain.clone(),
                }),
            }),
            (None, None) => None,
        };
        if project.is_none() && matches!(identity, V3Identity::Password { .. }) {
            return Err("Keystone v3 password authentication needs a project: set OS_PROJECT_NAME or OS_PROJECT_ID".to_string());
        }
        Ok(AuthConfig::KeystoneV3 {
            auth_url,
            identity,
            project,
            endpoint: self.endpoint_filter()?,
        })
    }

    fn endpoint_filter(&self) -> Result<EndpointFilter, String> {
        let interface = match &self.interface {
            None => Interface::Public,
            Some(value) => Interface::parse(value).ok_or_else(|| {
                format!("invalid OS_INTERFACE {value:?}: expected public, internal or admin")
            })?,
        };
        Ok(EndpointFilter {
            region: self.region.clone(),
            interface,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct FakeEnvironment(HashMap<&'static str, &'static str>);

    impl Environment for FakeEnvironment {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|value| value.to_string())
        }
    }

    fn settings(args: &[&str], env: &[(&'static str, &'static str)]) -> Result<Settings, String> {
        let mut argv = vec!["swiftmount"];
        argv.extend_from_slice(args);
        argv.push("/mnt");
        let parsed = Args::try_parse_from(argv).map_err(|err| err.to_string())?;
        parsed.into_settings(&FakeEnvironment(env.iter().copied().collect()))
    }

    #[test]
    fn v1_from_swiftclient_variables() {
        let settings = settings(
            &[],
            &[
                ("ST_AUTH", "http://127.0.0.1:8080/auth/v1.0"),
                ("ST_USER", "test:tester"),
                ("ST_KEY", "testing"),
            ],
        )
        .unwrap();
        assert!(matches!(settings.auth, AuthConfig::V1 { ref user, .. } if user == "test:tester"));
    }

    #[test]
    fn v3_from_url_with_default_domains() {
        let settings = settings(
            &[
                "--auth-url",
                "http://127.0.0.1:5000/v3",
                "--username",
                "demo",
                "--password",
                "pw",
                "--project-name",
                "demo",
            ],
            &[],
        )
        .unwrap();
        let AuthConfig::KeystoneV3 {
            identity, project, ..
        } = settings.auth
        else {
            panic!("not Keystone v3");
        };
        let V3Identity::Password { user_domain, .. } = identity else {
            panic!("not a password identity");
        };
        assert_eq!(user_domain, Some(NameOrId::Name("Default".into())));
        assert_eq!(
            project.unwrap().domain,
            Some(NameOrId::Name("Default".into()))
        );
    }

    #[test]
    fn v2_tenant_from_tenant_variable() {
        let settings = settings(
            &[
                "--auth-url",
                "http://127.0.0.1:5001/v2.0",
                "--username",
                "u",
                "--password",
                "p",
            ],
            &[("OS_TENANT_NAME", "t")],
        )
        .unwrap();
        assert!(
            matches!(settings.auth, AuthConfig::KeystoneV2 { tenant: NameOrId::Name(ref t), .. } if t == "t")
        );
    }

    #[test]
    fn preauthenticated_token_and_url() {
        let settings = settings(
            &[
                "--auth-token",
                "tok",
                "--storage-url",
                "http://127.0.0.1:8080/v1/AUTH_test",
            ],
            &[],
        )
        .unwrap();
        assert!(matches!(settings.auth, AuthConfig::PreAuthenticated { .. }));
        assert!(settings.storage_url_override.is_none());
    }

    #[test]
    fn unknown_protocol_names_the_variable() {
        let error = settings(
            &[
                "--auth-url",
                "http://127.0.0.1:5000/identity",
                "--username",
                "u",
                "--password",
                "p",
            ],
            &[],
        )
        .unwrap_err();
        assert!(error.contains("OS_IDENTITY_API_VERSION"), "{error}");
    }

    #[test]
    fn missing_auth_url_explained() {
        let error = settings(&[], &[]).unwrap_err();
        assert!(error.contains("OS_AUTH_URL"), "{error}");
    }

    #[test]
    fn bad_interface_rejected() {
        let error = settings(
            &[
                "--auth-url",
                "http://127.0.0.1:5000/v3",
                "--username",
                "u",
                "--password",
                "p",
                "--project-name",
                "x",
                "--interface",
                "private",
            ],
            &[],
        )
        .unwrap_err();
        assert!(error.contains("OS_INTERFACE"), "{error}");
    }

    #[test]
    fn mode_parsed_as_octal() {
        assert_eq!(parse_mode("750"), Ok(0o750));
        assert!(parse_mode("999").is_err());
    }
}
