//! Direct access to the shared local cluster of `scripts/swift-up` beyond
//! `SwiftApi::tempauth`: its ports file, API logins as any of its users,
//! scratch containers, and invalidating one known token in its memcached.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{credentials, state_dir, SwiftApi};

/// The `KEY=VALUE` lines of swift-up's `ports` file.
pub fn ports() -> HashMap<String, String> {
    let path = state_dir().join("ports");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// The shared Keystone without the `/v3` suffix, such as `http://127.0.0.1:5000`.
pub fn keystone_base_url() -> String {
    let url = &ports()["KEYSTONE_URL"];
    url.trim_end_matches('/')
        .trim_end_matches("/v3")
        .to_string()
}

fn api_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Logs in with one of swift-up's env files (`tempauth`, `keystone`, ...),
/// through tempauth or Keystone v3 as the file says.
pub fn api_as(env_name: &str) -> SwiftApi {
    let env = credentials(env_name);
    if env.get("OS_IDENTITY_API_VERSION").map(String::as_str) == Some("3") {
        keystone_login(&env)
    } else {
        TempauthUser::from_env(&env).login()
    }
}

/// A tempauth (Swift v1) user: where and how it logs in.
#[derive(Clone, Debug)]
pub struct TempauthUser {
    /// Such as `http://127.0.0.1:8080/auth/v1.0`.
    pub auth_url: String,
    /// `account:user`.
    pub user: String,
    pub key: String,
}

impl TempauthUser {
    /// The user of one of swift-up's tempauth env files (`tempauth`,
    /// `tempauth-test2`, ...).
    pub fn from_env_file(env_name: &str) -> TempauthUser {
        TempauthUser::from_env(&credentials(env_name))
    }

    fn from_env(env: &HashMap<String, String>) -> TempauthUser {
        TempauthUser {
            auth_url: env["OS_AUTH_URL"].clone(),
            user: env["OS_USERNAME"].clone(),
            key: env["OS_PASSWORD"].clone(),
        }
    }

    /// Logs in and returns the token and the storage URL.
    pub fn token(&self) -> (String, String) {
        let api = self.login();
        (api.token, api.storage_url)
    }

    pub fn login(&self) -> SwiftApi {
        let http = api_client();
        let response = http
            .get(&self.auth_url)
            .header("X-Auth-User", &self.user)
            .header("X-Auth-Key", &self.key)
            .send()
            .unwrap_or_else(|err| panic!("tempauth login at {}: {err}", self.auth_url));
        assert!(
            response.status().is_success(),
            "tempauth login of {} at {}: {}",
            self.user,
            self.auth_url,
            response.status()
        );
        let header = |name: &str| response.headers()[name].to_str().unwrap().to_string();
        SwiftApi {
            storage_url: header("x-storage-url"),
            token: header("x-auth-token"),
            http,
        }
    }
}

/// Logs in with a password, scoped to the env file's project. The storage
/// URL is the catalog's public object-store endpoint in `OS_REGION_NAME`.
pub fn keystone_login(env: &HashMap<String, String>) -> SwiftApi {
    let http = api_client();
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
        .post(format!(
            "{}/auth/tokens",
            env["OS_AUTH_URL"].trim_end_matches('/')
        ))
        .json(&body)
        .send()
        .expect("Keystone login");
    assert_eq!(response.status().as_u16(), 201, "Keystone login");
    let token = response.headers()["x-subject-token"]
        .to_str()
        .unwrap()
        .to_string();
    let answer: serde_json::Value = response.json().unwrap();
    let storage_url = answer["token"]["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|service| service["type"] == "object-store")
        .flat_map(|service| service["endpoints"].as_array().unwrap())
        .find(|endpoint| {
            endpoint["interface"] == "public" && endpoint["region_id"] == env["OS_REGION_NAME"]
        })
        .and_then(|endpoint| endpoint["url"].as_str())
        .expect("public object-store endpoint in the catalog")
        .to_string();
    SwiftApi {
        storage_url,
        token,
        http,
    }
}

/// A container with a unique name in a tempauth user's account, deleted
/// with its objects on drop.
pub struct ScratchContainer {
    user: TempauthUser,
    api: SwiftApi,
    pub name: String,
    objects: Vec<String>,
}

impl ScratchContainer {
    pub fn create(user: &TempauthUser, base: &str) -> ScratchContainer {
        let api = user.login();
        let name = super::unique_name(base);
        api.create_container(&name);
        ScratchContainer {
            user: user.clone(),
            api,
            name,
            objects: Vec::new(),
        }
    }

    pub fn put(&mut self, object: &str, body: &[u8]) {
        self.api.put(&format!("{}/{object}", self.name), body, &[]);
        self.objects.push(object.to_string());
    }
}

impl Drop for ScratchContainer {
    fn drop(&mut self) {
        // A fresh login, because the test may have invalidated the token.
        let api = self.user.login();
        for object in &self.objects {
            let _ = api
                .request(reqwest::Method::DELETE, &format!("{}/{object}", self.name))
                .send();
        }
        let deleted = api.request(reqwest::Method::DELETE, &self.name).send();
        if !deleted.is_ok_and(|response| response.status().is_success()) {
            eprintln!("could not delete container {}", self.name);
        }
    }
}

/// The memcached key under which tempauth keeps `token`. Tempauth stores
/// `<reseller prefix>/token/<token>` (Swift 2.30,
/// `swift/common/middleware/tempauth.py`), and Swift's memcache client sends
/// the MD5 hex digest of every key instead of the key.
pub fn tempauth_token_key(token: &str) -> String {
    hex_digest("md5sum", &format!("AUTH_/token/{token}"))
}

/// The memcached key under which the proxy's `authtoken` middleware caches
/// a validated Keystone token: `tokens/` and the SHA-256 hex digest of the
/// token (keystonemiddleware 10.1, `auth_token/_cache.py`, without a
/// `memcache_security_strategy`). The middleware trusts a cached token for
/// `token_cache_time` (300 s by default), so a revoked token stays usable at
/// Swift until this entry is gone.
pub fn authtoken_cache_key(token: &str) -> String {
    format!("tokens/{}", hex_digest("sha256sum", token))
}

/// Hashes with coreutils, which saves the tests a hashing dependency.
fn hex_digest(program: &str, input: &str) -> String {
    let mut child = Command::new(program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {program}: {err}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{program} failed");
    String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Deletes `key` from the shared memcached with the text protocol. Returns
/// `true` when the key existed.
pub fn delete_memcached_key(key: &str) -> bool {
    let address = format!("127.0.0.1:{}", ports()["MEMCACHED_PORT"]);
    let mut stream = TcpStream::connect(&address)
        .unwrap_or_else(|err| panic!("cannot connect to memcached at {address}: {err}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(format!("delete {key}\r\n").as_bytes())
        .unwrap();
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).unwrap();
    match reply.trim_end() {
        "DELETED" => true,
        "NOT_FOUND" => false,
        other => panic!("memcached answered {other:?} to delete {key}"),
    }
}
