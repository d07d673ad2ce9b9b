//! Shared helpers for the integration tests: the local Swift started by
//! `scripts/swift-up`, direct API access for checks that must not go through
//! the mount, and `Mount`, which runs the real binary on a temporary
//! directory and always unmounts it.

#![allow(dead_code)]

pub mod cluster;
pub mod fake_keystone_v2;
pub mod fake_keystone_v3;
pub mod http_server;
pub mod keystone;
pub mod mount_checks;
pub mod swift_proxy;

pub mod fault_proxy;
pub mod fixtures;
pub mod tarball;

use std::collections::HashMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The state directory of `scripts/swift-up`.
pub fn state_dir() -> PathBuf {
    match std::env::var_os("SWIFTMOUNT_STATE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".state"),
    }
}

/// Reads the `export NAME=VALUE` lines of one of swift-up's env files
/// (`tempauth`, `keystone`, `reader`, `admin`).
pub fn credentials(name: &str) -> HashMap<String, String> {
    let path = state_dir().join(format!("env-{name}.sh"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "cannot read {}: {err}. Start the local Swift first: scripts/swift-up && scripts/seed",
            path.display()
        )
    });
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("export "))
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_string(), unquote(value)))
        .collect()
}

fn unquote(value: &str) -> String {
    let trimmed = value.trim();
    for quote in ['\'', '"'] {
        if let Some(inner) = trimmed
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner.to_string();
        }
    }
    trimmed.to_string()
}

/// Direct access to the Swift API with a tempauth token, for checks that
/// must not go through the mount.
pub struct SwiftApi {
    pub storage_url: String,
    pub token: String,
    http: reqwest::blocking::Client,
}

impl SwiftApi {
    /// Logs in with the credentials in `env-tempauth.sh`.
    pub fn tempauth() -> SwiftApi {
        cluster::TempauthUser::from_env_file("tempauth").login()
    }

    pub fn url(&self, path: &str) -> String {
        let encoded: Vec<String> = path
            .split('/')
            .map(|segment| {
                percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            })
            .collect();
        format!("{}/{}", self.storage_url, encoded.join("/"))
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::blocking::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("X-Auth-Token", &self.token)
    }

    /// HEAD of `container/object`: the status and the headers.
    pub fn head(&self, path: &str) -> (u16, reqwest::header::HeaderMap) {
        let response = self.request(reqwest::Method::HEAD, path).send().unwrap();
        (response.status().as_u16(), response.headers().clone())
    }

    pub fn get(&self, path: &str) -> Vec<u8> {
        let response = self.request(reqwest::Method::GET, path).send().unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.bytes().unwrap().to_vec()
    }

    pub fn put(&self, path: &str, body: &[u8], headers: &[(&str, &str)]) {
        let mut request = self.request(reqwest::Method::PUT, path).body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().unwrap();
        assert!(
            response.status().is_success(),
            "PUT {path}: {}",
            response.status()
        );
    }

    pub fn create_container(&self, name: &str) {
        self.put(name, b"", &[]);
    }

    /// Names of every object in a container (following pages), no delimiter.
    pub fn list(&self, container: &str) -> Vec<serde_json::Value> {
        let mut all = Vec::new();
        let mut marker = String::new();
        loop {
            let response = self
                .request(reqwest::Method::GET, container)
                .query(&[("format", "json"), ("marker", marker.as_str())])
                .send()
                .unwrap();
            let page: Vec<serde_json::Value> = response.json().unwrap();
            match page.last() {
                Some(last) => marker = last["name"].as_str().unwrap().to_string(),
                None => return all,
            }
            all.extend(page);
        }
    }
}

/// A running `swiftmount` on a temporary mountpoint. Dropping it unmounts
/// with `fusermount3 -u` and stops the process, also when a test panics.
pub struct Mount {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    log_path: PathBuf,
}

/// What to mount: a set of credentials and extra flags.
pub struct MountOptions {
    pub env: HashMap<String, String>,
    pub args: Vec<String>,
}

impl MountOptions {
    pub fn new(credentials_name: &str) -> MountOptions {
        MountOptions {
            env: credentials(credentials_name),
            args: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: &str) -> MountOptions {
        self.args.push(arg.to_string());
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> MountOptions {
        self.env.insert(name.to_string(), value.to_string());
        self
    }
}

/// The `swiftmount` command with a clean OpenStack environment plus `env`.
pub fn swiftmount_command(
    env: &HashMap<String, String>,
    args: &[String],
    mountpoint: &Path,
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_swiftmount"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OS_") || key.starts_with("ST_") {
            command.env_remove(key);
        }
    }
    command.envs(env).args(args).arg(mountpoint);
    command
}

impl Mount {
    /// Mounts and waits (at most 30 s) until the mount is in /proc/self/mountinfo.
    pub fn start(options: MountOptions) -> Mount {
        let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info,swiftmount=debug".into());
        Mount::start_with_log_filter(options, &filter)
    }

    /// `Mount::start` with `RUST_LOG` set to `filter` for this mount alone.
    pub fn start_with_log_filter(options: MountOptions, filter: &str) -> Mount {
        let dir = tempfile::Builder::new()
            .prefix("swiftmount-test-")
            .tempdir()
            .unwrap();
        let log_path = dir.path().with_extension("log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut command = swiftmount_command(&options.env, &options.args, dir.path());
        command
            .env("RUST_LOG", filter)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = command.spawn().expect("start swiftmount");
        let mut mount = Mount {
            dir,
            child: Some(child),
            log_path,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !is_mounted(mount.path()) {
            if let Some(status) = mount.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "swiftmount exited with {status} before mounting; log:\n{}",
                    mount.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "not mounted after 30 s; log:\n{}",
                mount.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        mount
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// The request counters, from the `user.swiftmount.stats` attribute.
    pub fn stats(&self) -> HashMap<String, u64> {
        let value = getxattr(self.path(), "user.swiftmount.stats").expect("read stats attribute");
        value
            .split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (key.to_string(), value.parse().unwrap()))
            .collect()
    }

    /// Unmounts and waits for the process; returns its log.
    pub fn stop(mut self) -> String {
        self.shutdown();
        self.log()
    }

    fn shutdown(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if is_mounted(self.dir.path()) {
            let _ = Command::new("fusermount3")
                .arg("-u")
                .arg(self.dir.path())
                .stderr(Stdio::null())
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
        }
        // A process killed while mounted leaves the mount behind.
        if is_mounted(self.dir.path()) {
            let _ = Command::new("fusermount3")
                .arg("-uz")
                .arg(self.dir.path())
                .status();
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        self.shutdown();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

/// `true` if `path` is a mountpoint in this mount namespace.
pub fn is_mounted(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let wanted = path.to_string_lossy();
    info.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .any(|mountpoint| mountpoint == wanted)
}

pub fn getxattr(path: &Path, name: &str) -> Option<String> {
    let c_path = CString::new(path.as_os_str().as_bytes()).unwrap();
    let c_name = CString::new(name).unwrap();
    let mut buffer = vec![0u8; 4096];
    // SAFETY: both strings are NUL-terminated and the buffer length is passed.
    let len = unsafe {
        libc::getxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
        )
    };
    if len < 0 {
        return None;
    }
    buffer.truncate(len as usize);
    Some(String::from_utf8(buffer).unwrap())
}

/// Runs a command and returns its output; panics with stderr if it failed.
pub fn run_ok(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?} failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// A container name unique to this test run, for tests that write.
pub fn unique_name(base: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{base}-{}-{nanos}", std::process::id())
}
