//! Keystone v3 helpers for the authentication tests: the `openstack` CLI as
//! swift-up's users, throwaway users and application credentials that delete
//! themselves, a private Keystone process with its own settings, and a
//! recording proxy that shows the tokens a mount received.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::cluster::keystone_base_url;
use super::http_server::{forward, TestServer};
use super::{credentials, state_dir, unique_name};

/// Attempts of one Keystone request or CLI command. The shared Keystone
/// keeps its data in sqlite, and two writes that collide make one fail with
/// HTTP 500 ("database is locked", seen on Keystone 22 under parallel
/// tests), so idempotent setup steps are tried again.
const KEYSTONE_ATTEMPTS: u32 = 3;

/// Runs `openstack ARGS` with the credentials of swift-up's env file
/// `env_name` (`admin`, `keystone`, ...) and returns its trimmed standard
/// output. Panics with the command's error output when it fails.
pub fn openstack(env_name: &str, args: &[&str]) -> String {
    match run_openstack(env_name, args) {
        Ok(output) => output,
        Err(message) => panic!("{message}"),
    }
}

/// `openstack` for an idempotent command (a lookup, a revocation, setting a
/// password): a server error or a dropped connection is tried again, up to
/// `KEYSTONE_ATTEMPTS` times in all.
pub fn openstack_idempotent(env_name: &str, args: &[&str]) -> String {
    let mut attempt = 1;
    loop {
        match run_openstack(env_name, args) {
            Ok(output) => return output,
            Err(message) if attempt < KEYSTONE_ATTEMPTS && is_server_failure(&message) => {
                eprintln!("retrying after: {message}");
                attempt += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(message) => panic!("{message}"),
        }
    }
}

/// Recognizes the CLI's messages for HTTP 5xx and broken connections.
fn is_server_failure(message: &str) -> bool {
    message.contains("(HTTP 5") || message.contains("Unable to establish connection")
}

fn run_openstack(env_name: &str, args: &[&str]) -> Result<String, String> {
    let mut command = Command::new("openstack");
    for (key, _) in std::env::vars() {
        if key.starts_with("OS_") {
            command.env_remove(key);
        }
    }
    let output = command
        .envs(credentials(env_name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the openstack CLI (python3-openstackclient)");
    if !output.status.success() {
        return Err(format!(
            "openstack {args:?} as {env_name} failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8(output.stdout).unwrap().trim().to_string())
}

/// Looks up the id of a Keystone entity as admin. `kind` is `user`,
/// `project` or `domain`.
pub fn entity_id(kind: &str, name: &str) -> String {
    openstack_idempotent("admin", &[kind, "show", name, "-f", "value", "-c", "id"])
}

/// The Keystone v3 API of the shared cluster with an admin token, for test
/// setup that needs no CLI (a CLI call costs one to several seconds).
struct AdminApi {
    http: reqwest::blocking::Client,
    base: String,
    token: String,
}

impl AdminApi {
    fn login() -> AdminApi {
        let env = credentials("admin");
        let http = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("{}/v3", keystone_base_url());
        let body = serde_json::json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": env["OS_USERNAME"],
                "domain": {"name": env["OS_USER_DOMAIN_NAME"]},
                "password": env["OS_PASSWORD"],
            }}},
            "scope": {"project": {
                "name": env["OS_PROJECT_NAME"],
                "domain": {"name": env["OS_PROJECT_DOMAIN_NAME"]},
            }},
        }});
        let response = http
            .post(format!("{base}/auth/tokens?nocatalog"))
            .json(&body)
            .send()
            .expect("admin login to Keystone");
        assert_eq!(response.status().as_u16(), 201, "admin login to Keystone");
        let token = response.headers()["x-subject-token"]
            .to_str()
            .unwrap()
            .to_string();
        AdminApi { http, base, token }
    }

    /// Sends a request and returns the JSON response body (`null` for none).
    /// Panics unless the status is 2xx. A 5xx response or a broken connection
    /// is tried again, since Keystone rolls back the failed transaction.
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let mut attempt = 1;
        loop {
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .header("X-Auth-Token", &self.token);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let failure = match request.send() {
                Ok(response) if response.status().is_server_error() => {
                    format!("HTTP {}", response.status())
                }
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().unwrap_or_default();
                    assert!(status.is_success(), "{method} {path}: {status}: {text}");
                    return serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
                }
                Err(error) => error.to_string(),
            };
            assert!(
                attempt < KEYSTONE_ATTEMPTS,
                "{method} {path} failed {attempt} times, last with {failure}"
            );
            eprintln!("retrying {method} {path} after: {failure}");
            attempt += 1;
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

/// A user of its own in the Default domain, with the `member` role on the
/// `demo` project (so it reads the seeded Keystone account), deleted on
/// drop. Tests that revoke tokens or change passwords use one, so that the
/// shared users stay intact.
pub struct KeystoneUser {
    pub name: String,
    pub id: String,
    pub password: String,
}

impl KeystoneUser {
    pub fn create(base: &str) -> KeystoneUser {
        let admin = AdminApi::login();
        let name = unique_name(base);
        let password = format!("pw-{name}");
        let created = admin.call(
            reqwest::Method::POST,
            "/users",
            Some(serde_json::json!({"user": {
                "name": name,
                "password": password,
                "domain_id": "default",
            }})),
        );
        let user = KeystoneUser {
            name,
            id: created["user"]["id"].as_str().unwrap().to_string(),
            password,
        };

        let roles = admin.call(reqwest::Method::GET, "/roles?name=member", None);
        let role = roles["roles"][0]["id"].as_str().unwrap();
        let project = &super::cluster::ports()["KEYSTONE_DEMO_PROJECT_ID"];
        admin.call(
            reqwest::Method::PUT,
            &format!("/projects/{project}/users/{}/roles/{role}", user.id),
            None,
        );
        user
    }

    /// Builds the OpenStack RC variables of `demo` with this user's name and
    /// password.
    pub fn env(&self) -> HashMap<String, String> {
        let mut env = credentials("keystone");
        env.insert("OS_USERNAME".into(), self.name.clone());
        env.insert("OS_PASSWORD".into(), self.password.clone());
        env
    }

    /// Changes the password with `openstack user set` as admin. Keystone
    /// revokes the user's tokens.
    pub fn set_password(&mut self, password: &str) {
        openstack_idempotent("admin", &["user", "set", "--password", password, &self.id]);
        self.password = password.to_string();
    }
}

impl Drop for KeystoneUser {
    fn drop(&mut self) {
        let deleted = std::panic::catch_unwind(|| {
            AdminApi::login().call(
                reqwest::Method::DELETE,
                &format!("/users/{}", self.id),
                None,
            )
        });
        if deleted.is_err() {
            eprintln!("could not delete Keystone user {} ({})", self.name, self.id);
        }
    }
}

/// An application credential of the `demo` user, deleted on drop.
pub struct AppCredential {
    pub id: String,
    pub name: String,
    pub secret: String,
}

impl AppCredential {
    pub fn create(base: &str) -> AppCredential {
        let name = unique_name(base);
        let output = openstack(
            "keystone",
            &["application", "credential", "create", &name, "-f", "json"],
        );
        let created: serde_json::Value = serde_json::from_str(&output)
            .unwrap_or_else(|err| panic!("application credential JSON: {err}: {output}"));
        AppCredential {
            id: created["id"].as_str().unwrap().to_string(),
            name,
            secret: created["secret"].as_str().unwrap().to_string(),
        }
    }
}

impl Drop for AppCredential {
    fn drop(&mut self) {
        let deleted = Command::new("openstack")
            .envs(credentials("keystone"))
            .args(["application", "credential", "delete", &self.id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !matches!(deleted, Ok(status) if status.success()) {
            eprintln!("could not delete application credential {}", self.name);
        }
    }
}

/// A Keystone process of its own on a free port, serving the shared
/// cluster's database with the same fernet and credential keys, so its
/// tokens are valid at the shared keystoneauth proxy. Its settings can
/// differ (a short token lifetime), and its request log holds only the
/// requests of the test that started it. Stopped by PID on drop.
pub struct PrivateKeystone {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    /// Tokens issued by the warm-up login, left out of `tokens_issued`.
    warm_up_tokens: usize,
}

impl PrivateKeystone {
    /// Starts uWSGI as `scripts/swift-up` does, with the shared
    /// `keystone.conf` except for the log file and, when given, the token
    /// lifetime in seconds (`[token] expiration`). Waits until `GET /v3`
    /// succeeds, for at most 60 s, then logs in once as `demo`, because the first
    /// login of a new Keystone process takes seconds, which would otherwise
    /// count against the mount's startup time limit.
    pub fn start(token_expiration: Option<u32>) -> PrivateKeystone {
        let dir = tempfile::Builder::new()
            .prefix("swiftmount-keystone-")
            .tempdir()
            .unwrap();
        write_config(
            &dir.path().join("keystone.conf"),
            dir.path(),
            token_expiration,
        );
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("uwsgi.log")).unwrap();
        let child = Command::new("uwsgi")
            .args(["--plugin", "python3", "--http11-socket"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--wsgi-file")
            .arg(find_in_path("keystone-wsgi-public"))
            .args(["--master", "--processes", "1", "--threads", "4"])
            .args(["--die-on-term", "--need-app", "--buffer-size", "65535"])
            .arg("--env")
            .arg(format!("OS_KEYSTONE_CONFIG_DIR={}", dir.path().display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start uwsgi");
        let mut keystone = PrivateKeystone {
            child,
            dir,
            port,
            warm_up_tokens: 0,
        };
        keystone.wait_until_ready();
        keystone.warm_up();
        keystone
    }

    /// The v3 base URL, for `OS_AUTH_URL`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v3", self.port)
    }

    /// The uWSGI request log (one line per request).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("uwsgi.log")).unwrap_or_default()
    }

    /// Counts the tokens issued since the warm-up: `POST /v3/auth/tokens`
    /// requests with status 201.
    pub fn tokens_issued(&self) -> usize {
        self.log()
            .lines()
            .filter(|line| line.contains("POST /v3/auth/tokens") && line.contains("(HTTP/1.1 201)"))
            .count()
            - self.warm_up_tokens
    }

    fn warm_up(&mut self) {
        let mut env = credentials("keystone");
        env.insert("OS_AUTH_URL".into(), self.url());
        let _ = super::cluster::keystone_login(&env);
        // uWSGI logs a request after sending its response, so the line may
        // still be on its way.
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.tokens_issued() == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.warm_up_tokens = self.tokens_issued();
    }

    fn wait_until_ready(&mut self) {
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "private Keystone exited with {status}; log:\n{}",
                    self.log()
                );
            }
            let ready = client
                .get(self.url())
                .send()
                .is_ok_and(|response| response.status().is_success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "private Keystone not ready after 60 s; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for PrivateKeystone {
    fn drop(&mut self) {
        // uWSGI started with --die-on-term stops its worker on SIGTERM.
        // SAFETY: kill() only sends a signal to the process this guard started.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a copy of the shared `keystone.conf` with its own log file and,
/// when given, another token lifetime.
fn write_config(path: &std::path::Path, dir: &std::path::Path, token_expiration: Option<u32>) {
    let shared = state_dir().join("keystone/keystone.conf");
    let text = std::fs::read_to_string(&shared)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", shared.display()));
    let mut replaced_expiration = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if line.starts_with("log_file") {
                format!("log_file = {}", dir.join("keystone.log").display())
            } else if let (true, Some(seconds)) = (line.starts_with("expiration"), token_expiration)
            {
                replaced_expiration = true;
                format!("expiration = {seconds}")
            } else {
                line.to_string()
            }
        })
        .collect();
    assert!(
        token_expiration.is_none() || replaced_expiration,
        "no [token] expiration line in {}",
        shared.display()
    );
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// Finds a port that is free at this moment. Another process could take it
/// before uWSGI binds it, which then fails the start with a clear log.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn find_in_path(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{program} not found in PATH; run scripts/install-deps"))
}

/// A proxy in front of the shared Keystone that passes every request on and
/// keeps the tokens it issues (`X-Subject-Token`), so that a test can revoke
/// or invalidate exactly the token a mount holds. It also counts the
/// authentication requests of that mount alone.
pub struct TokenRecorder {
    server: TestServer,
    tokens: Arc<Mutex<Vec<String>>>,
}

impl TokenRecorder {
    pub fn start() -> TokenRecorder {
        let upstream = keystone_base_url();
        let tokens = Arc::new(Mutex::new(Vec::new()));
        let recorded = tokens.clone();
        let server = TestServer::start(move |request| {
            let response = forward(request, &upstream);
            let issued = request.method == "POST" && request.path() == "/v3/auth/tokens";
            if let (true, Some((_, token))) = (
                issued,
                response
                    .headers
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case("x-subject-token")),
            ) {
                recorded.lock().unwrap().push(token.clone());
            }
            response
        });
        TokenRecorder { server, tokens }
    }

    /// The v3 base URL, for `OS_AUTH_URL`.
    pub fn url(&self) -> String {
        format!("{}/v3", self.server.url())
    }

    /// Every token issued through this proxy, oldest first.
    pub fn tokens(&self) -> Vec<String> {
        self.tokens.lock().unwrap().clone()
    }

    /// The most recent token issued through this proxy.
    pub fn last_token(&self) -> String {
        self.tokens()
            .last()
            .cloned()
            .expect("no token issued through the recording proxy yet")
    }

    /// Number of authentication requests (`POST /v3/auth/tokens`), whatever
    /// their outcome.
    pub fn token_requests(&self) -> usize {
        self.server.count_of("POST", "/v3/auth/tokens")
    }
}
