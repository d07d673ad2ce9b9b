//! A `swift-proxy-server` of the test's own with a tempauth user that no
//! other test knows, for tests that invalidate that user's tokens: the
//! shared users' tokens are in use by other tests at the same time.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::cluster::TempauthUser;
use super::state_dir;

/// A proxy on a free port with the shared cluster's rings, swift.conf and
/// memcached, started the way `scripts/swift-up` starts its proxies. Its
/// tempauth knows one user, whose account is created in the shared cluster
/// on first use. It runs in a process group of its own, because Swift's
/// server signals its whole group on SIGTERM. Dropping it stops that group.
pub struct PrivateTempauthProxy {
    port: u16,
    dir: tempfile::TempDir,
    child: Child,
    user: TempauthUser,
}

impl PrivateTempauthProxy {
    /// Starts the proxy and waits (at most 60 s) until its healthcheck
    /// succeeds.
    pub fn start() -> PrivateTempauthProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let dir = tempfile::Builder::new()
            .prefix("swiftmount-proxy-")
            .tempdir()
            .unwrap();
        // One account per test process, so that concurrent runs on the same
        // cluster do not share tokens either.
        let account = format!("authtest{}", std::process::id());
        let key = super::unique_name("key");
        write_config(&dir.path().join("proxy.conf"), port, &account, &key);

        let log = std::fs::File::create(dir.path().join("proxy.log")).unwrap();
        let child = Command::new("/usr/bin/python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lib/run-swift-server.py"))
            .arg(state_dir().join("swift"))
            .arg("--access-log")
            .arg(dir.path().join("access.log"))
            .arg("/usr/bin/swift-proxy-server")
            .arg(dir.path().join("proxy.conf"))
            .arg("-v")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start swift-proxy-server");
        let mut proxy = PrivateTempauthProxy {
            port,
            dir,
            child,
            user: TempauthUser {
                auth_url: format!("http://127.0.0.1:{port}/auth/v1.0"),
                user: format!("{account}:tester"),
                key,
            },
        };
        proxy.wait_until_ready();
        proxy
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("proxy.log")).unwrap_or_default()
    }

    /// The tempauth user of this proxy.
    pub fn user(&self) -> TempauthUser {
        self.user.clone()
    }

    fn wait_until_ready(&mut self) {
        let http = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let url = format!("http://127.0.0.1:{}/healthcheck", self.port);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = http
                .get(&url)
                .send()
                .is_ok_and(|response| response.status().is_success());
            if ready {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "private swift-proxy-server exited with {status}; log:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "private swift-proxy-server not ready on {url} after 60 s; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for PrivateTempauthProxy {
    fn drop(&mut self) {
        let group = -(self.child.id() as libc::pid_t);
        // SAFETY: kill() only sends a signal to the process group this guard
        // created for its own child.
        unsafe { libc::kill(group, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // SAFETY: as above. This ends any worker that outlived its parent.
        unsafe { libc::kill(group, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// Writes a copy of the shared tempauth proxy's configuration with another
/// port, one worker process, and `account:tester` as the only user.
fn write_config(path: &Path, port: u16, account: &str, key: &str) {
    let shared = state_dir().join("swift/proxy-tempauth.conf");
    let text = std::fs::read_to_string(&shared)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", shared.display()));
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let setting = line.trim_start();
        if setting.starts_with("bind_port") {
            lines.push(format!("bind_port = {port}"));
        } else if setting.starts_with("workers") {
            lines.push("workers = 1".to_string());
        } else if setting.starts_with("user_") {
            continue;
        } else {
            lines.push(line.to_string());
        }
        if setting == "use = egg:swift#tempauth" {
            lines.push(format!("user_{account}_tester = {key} .admin"));
        }
    }
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}
