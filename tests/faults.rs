//! Fault tests of the mount. It runs behind a fault-injecting proxy (503,
//! 401, resets, truncated and stalled bodies, a proxy that stops or hangs),
//! behind a Swift proxy process that the test restarts, and behind a TLS
//! terminator. Further tests put it under a 16-thread load, set ownership
//! options, read an object that Swift denies, and shut it down.
//!
//! Needs `scripts/swift-up` and `scripts/seed`, root (FUSE with
//! `allow_other`, and `setpriv` to act as another user), and `socat` and
//! `openssl` for the TLS tests. Every wait is bounded, so a hang fails the
//! test instead of blocking the run. `SWIFTMOUNT_STRESS_SECONDS` sets the
//! length of the stress run (default 60).

mod common;

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::fault_proxy::{Fault, FaultProxy, Faults};
use common::{run_ok, stdout_lines, Mount, MountOptions, SwiftApi};
use swiftmount::swift::client::RetryPolicy;

/// Size of the object that the large-read tests create. Each read of it is
/// split into ranged GETs of at most 8 MiB, about a dozen for 64 MiB, and
/// the faults act per GET, so a larger object adds run time but no case.
const LARGE_OBJECT_BYTES: usize = 64 * 1024 * 1024;

/// Limit for a command or read that should finish; far above what it needs,
/// so that only a hang reaches it.
const HANG_LIMIT: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------
// Helpers

/// Computes the maximum time that one request of `policy` spends waiting
/// between its attempts: every backoff delay at its full 50% jitter.
fn max_retry_wait(policy: &RetryPolicy) -> Duration {
    (0..policy.max_attempts - 1)
        .map(|retry| {
            policy
                .first_delay
                .saturating_mul(1 << retry)
                .min(policy.max_delay)
                .mul_f64(1.5)
        })
        .sum()
}

/// Returns the account part of the tempauth storage URL, such as `AUTH_test`.
fn tempauth_account(api: &SwiftApi) -> String {
    api.storage_url.rsplit('/').next().unwrap().to_string()
}

/// Mount options for the tempauth user with data going through `proxy`
/// and authentication going straight to tempauth.
fn through_proxy(api: &SwiftApi, proxy: &FaultProxy) -> MountOptions {
    MountOptions::new("tempauth").env("OS_STORAGE_URL", &proxy.storage_url(&tempauth_account(api)))
}

/// Object names under `prefix` in `container`, from the API.
fn api_names(api: &SwiftApi, container: &str, prefix: &str) -> Vec<String> {
    api.list(container)
        .iter()
        .map(|row| row["name"].as_str().unwrap().to_string())
        .filter(|name| name.starts_with(prefix))
        .collect()
}

/// Runs a command and returns its output and duration. A command still
/// running after `limit` is killed and fails the test.
fn run_timed(command: &mut Command, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
    let pid = child.id();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(limit) {
        Ok(output) => (output.unwrap(), started.elapsed()),
        Err(_) => {
            // SAFETY: kill sends a signal to the child this function started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("{command:?} still running after {limit:?}");
        }
    }
}

fn command(program: &str, args: &[&Path]) -> Command {
    let mut command = Command::new(program);
    command.args(args);
    command
}

/// `program args` as the user and group `id`, with no supplementary groups.
fn as_user(id: u32, program: &str, args: &[&Path]) -> Command {
    let mut command = Command::new("setpriv");
    command
        .arg(format!("--reuid={id}"))
        .arg(format!("--regid={id}"))
        .arg("--clear-groups")
        .arg("--")
        .arg(program)
        .args(args);
    command
}

fn stderr_text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Computes the MD5 of a file with `md5sum`, as lower-case hex.
fn md5_of(path: &Path) -> String {
    let (output, _) = run_timed(&mut command("md5sum", &[path]), HANG_LIMIT);
    assert!(
        output.status.success(),
        "md5sum {}: {}",
        path.display(),
        stderr_text(&output)
    );
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Returns a port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `true` once `pid` has exited (a zombie not yet reaped counts as exited).
fn has_exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let state = stat.rsplit(") ").next().unwrap_or("").chars().next();
            matches!(state, Some('Z') | Some('X'))
        }
    }
}

/// Waits until `condition` holds; `false` when `limit` passed first.
fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    condition()
}

/// Warn lines of a swiftmount log that mention `text`.
fn warnings_with<'a>(log: &'a str, text: &str) -> Vec<&'a str> {
    log.lines()
        .filter(|line| line.contains(" WARN ") && line.contains(text))
        .collect()
}

/// An object of `LARGE_OBJECT_BYTES` pseudo-random bytes in a container of
/// its own; both are deleted on drop.
struct LargeObject<'a> {
    api: &'a SwiftApi,
    container: String,
    /// `container/object`, relative to the mount root.
    path: String,
    /// Swift's ETag, the MD5 of the content.
    etag: String,
}

impl<'a> LargeObject<'a> {
    fn upload(api: &'a SwiftApi) -> LargeObject<'a> {
        let container = common::unique_name("faults-large");
        api.create_container(&container);
        let path = format!("{container}/large.bin");
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut content = Vec::with_capacity(LARGE_OBJECT_BYTES);
        while content.len() < LARGE_OBJECT_BYTES {
            // xorshift64: incompressible bytes without a random-number crate.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            content.extend_from_slice(&state.to_le_bytes());
        }
        api.put(&path, &content, &[]);
        let (status, headers) = api.head(&path);
        assert_eq!(status, 200, "HEAD {path}");
        let etag = headers["etag"]
            .to_str()
            .unwrap()
            .trim_matches('"')
            .to_string();
        LargeObject {
            api,
            container,
            path,
            etag,
        }
    }
}

impl Drop for LargeObject<'_> {
    fn drop(&mut self) {
        for path in [&self.path, &self.container] {
            let _ = self.api.request(reqwest::Method::DELETE, path).send();
        }
    }
}

/// Reads `path` through `md5sum` and checks it against `expected`.
fn assert_md5(path: &Path, expected: &str) {
    let started = Instant::now();
    let actual = md5_of(path);
    eprintln!(
        "md5sum of {} took {} ms",
        path.display(),
        started.elapsed().as_millis()
    );
    assert_eq!(
        actual,
        expected,
        "MD5 of {} read through the mount",
        path.display()
    );
}

// ---------------------------------------------------------------------------
// Transient HTTP errors and broken bodies

#[test]
fn photos_copy_survives_503s() {
    let api = SwiftApi::tempauth();
    let proxy = FaultProxy::start();
    // Every request under /v1/ is eligible; the cluster's /info is not,
    // because it is read once without retries. At most 3 failures in a row
    // for one request stays below the 6 attempts of the default policy.
    proxy.set_faults(Faults {
        fault: Some(Fault::Unavailable { retry_after: None }),
        percent: 10,
        path_contains: "/v1/".into(),
        max_in_a_row: 3,
        ..Faults::default()
    });
    let mount = Mount::start(through_proxy(&api, &proxy));
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("photos");

    let (output, elapsed) = run_timed(
        command("cp", &[])
            .arg("-r")
            .arg(mount.join("photos"))
            .arg(&copy),
        HANG_LIMIT,
    );
    eprintln!(
        "cp -r photos with 10% 503: {} ms, {} requests, {} answered 503",
        elapsed.as_millis(),
        proxy.requests(),
        proxy.faults_injected()
    );
    assert!(output.status.success(), "cp -r: {}", stderr_text(&output));
    assert_eq!(stderr_text(&output), "", "cp -r wrote to stderr");

    for row in api.list("photos") {
        let name = row["name"].as_str().unwrap();
        let expected = row["hash"].as_str().unwrap();
        assert_eq!(
            md5_of(&copy.join(name)),
            expected,
            "MD5 of the copy of {name}"
        );
    }

    let stats = mount.stats();
    assert!(proxy.faults_injected() > 0, "no 503 was injected");
    assert_eq!(
        stats["retries"],
        proxy.faults_injected(),
        "retries against injected 503s: {stats:?}"
    );
    assert_eq!(stats["errors"], 0, "failed requests: {stats:?}");
    let log = mount.stop();
    let retries = warnings_with(&log, "retrying in");
    assert!(!retries.is_empty(), "no retry warning in the log:\n{log}");
    assert!(
        retries
            .iter()
            .any(|line| line.contains("GET photos/") && line.contains("HTTP 503")),
        "no retry warning names GET, the path and the status:\n{log}"
    );
    assert!(
        retries.iter().any(|line| line.contains("tx-fault-")),
        "no retry warning names the transaction id:\n{log}"
    );
}

#[test]
fn retry_after_honoured() {
    let api = SwiftApi::tempauth();
    let name = api_names(&api, "photos", "thumbs/").remove(0);
    let proxy = FaultProxy::start();
    let mount = Mount::start(through_proxy(&api, &proxy));
    proxy.set_faults(Faults {
        fault: Some(Fault::Unavailable {
            retry_after: Some(2),
        }),
        percent: 100,
        path_contains: name.clone(),
        max_in_a_row: 1,
        ..Faults::default()
    });

    let content = std::fs::read(mount.join(&format!("photos/{name}"))).unwrap();
    assert_eq!(content, api.get(&format!("photos/{name}")));
    assert!(proxy.faults_injected() > 0, "no 503 was injected");
    let log = mount.stop();
    assert!(
        !warnings_with(&log, "retrying in 2000 ms").is_empty(),
        "Retry-After: 2 not followed:\n{log}"
    );
}

#[test]
fn unauthorized_renews_token() {
    let api = SwiftApi::tempauth();
    let name = api_names(&api, "photos", "thumbs/").remove(0);
    let proxy = FaultProxy::start();
    let mount = Mount::start(through_proxy(&api, &proxy));
    proxy.set_faults(Faults {
        fault: Some(Fault::Unauthorized),
        percent: 100,
        path_contains: name.clone(),
        max_in_a_row: 1,
        ..Faults::default()
    });

    let content = std::fs::read(mount.join(&format!("photos/{name}"))).unwrap();
    assert_eq!(content, api.get(&format!("photos/{name}")));
    let injected = proxy.faults_injected();
    assert!(injected > 0, "no 401 was injected");
    let stats = mount.stats();
    assert_eq!(stats["auth"], 1 + injected, "authentications: {stats:?}");
    assert_eq!(stats["errors"], 0, "failed requests: {stats:?}");
    let log = mount.stop();
    assert!(
        log.contains("authenticated (Swift answered 401)"),
        "no renewal after 401 in the log:\n{log}"
    );
}

#[test]
fn large_read_survives_resets() {
    let api = SwiftApi::tempauth();
    let object = LargeObject::upload(&api);
    let proxy = FaultProxy::start();
    let mount = Mount::start(through_proxy(&api, &proxy));
    proxy.set_faults(Faults {
        fault: Some(Fault::ResetAfter { bytes: 256 * 1024 }),
        percent: 30,
        path_contains: object.path.clone(),
        max_in_a_row: 3,
        ..Faults::default()
    });

    assert_md5(&mount.join(&object.path), &object.etag);
    eprintln!("resets injected: {}", proxy.faults_injected());
    assert!(proxy.faults_injected() > 0, "no connection was reset");
    assert_eq!(mount.stats()["retries"], proxy.faults_injected());
    let log = mount.stop();
    let warnings = warnings_with(&log, &format!("GET {}", object.path));
    eprintln!("first warning: {:?}", warnings.first());
    assert!(
        !warnings.is_empty(),
        "no retry warning for the reset reads:\n{log}"
    );
}

#[test]
fn large_read_survives_truncated_bodies() {
    let api = SwiftApi::tempauth();
    let object = LargeObject::upload(&api);
    let proxy = FaultProxy::start();
    let mount = Mount::start(through_proxy(&api, &proxy));
    proxy.set_faults(Faults {
        fault: Some(Fault::TruncateAfter { bytes: 1024 * 1024 }),
        percent: 30,
        path_contains: object.path.clone(),
        max_in_a_row: 3,
        ..Faults::default()
    });

    assert_md5(&mount.join(&object.path), &object.etag);
    eprintln!("truncated bodies: {}", proxy.faults_injected());
    assert!(proxy.faults_injected() > 0, "no body was truncated");
    assert_eq!(mount.stats()["retries"], proxy.faults_injected());
}

#[test]
fn stalled_body_hits_read_timeout() {
    let api = SwiftApi::tempauth();
    let object = LargeObject::upload(&api);
    let proxy = FaultProxy::start();
    let mount = Mount::start(through_proxy(&api, &proxy).arg("--read-timeout").arg("2"));
    // A pause far longer than the read timeout: only the timeout ends it.
    proxy.set_faults(Faults {
        fault: Some(Fault::PauseAfter {
            bytes: 256 * 1024,
            pause: Duration::from_secs(600),
        }),
        percent: 30,
        path_contains: object.path.clone(),
        max_in_a_row: 2,
        ..Faults::default()
    });

    assert_md5(&mount.join(&object.path), &object.etag);
    eprintln!("stalled bodies: {}", proxy.faults_injected());
    assert!(proxy.faults_injected() > 0, "no body was stalled");
    assert_eq!(mount.stats()["retries"], proxy.faults_injected());
    let log = mount.stop();
    assert!(
        !warnings_with(&log, "timed out").is_empty(),
        "no timeout in the retry warnings:\n{log}"
    );
}

// ---------------------------------------------------------------------------
// Swift gone: a stopped, hung or restarted proxy

/// `ls` of the mount root, `stat` of a directory and `cat` of a file, each
/// with its path: the commands of the outage tests.
fn outage_commands(mount: &Mount, photo: &str) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("ls", mount.path().to_path_buf()),
        ("stat", mount.join("photos/fullsize")),
        ("cat", mount.join(&format!("photos/{photo}"))),
    ]
}

#[test]
fn stopped_proxy_eio_then_recovers() {
    let api = SwiftApi::tempauth();
    let photo = api_names(&api, "photos", "fullsize/").remove(0);
    let proxy = FaultProxy::start();
    // Nothing cached, so that every command needs Swift.
    let mount = Mount::start(
        through_proxy(&api, &proxy)
            .arg("--attr-ttl")
            .arg("0")
            .arg("--dir-ttl")
            .arg("0")
            .arg("--negative-ttl")
            .arg("0"),
    );
    // Connections are refused at once, so a request fails after its
    // backoff delays alone. The bound allows two such requests per command
    // plus 5 s of slack.
    let bound = max_retry_wait(&RetryPolicy::default()) * 2 + Duration::from_secs(5);

    proxy.stop();
    for (program, path) in outage_commands(&mount, &photo) {
        let (output, elapsed) = run_timed(&mut command(program, &[&path]), HANG_LIMIT);
        eprintln!(
            "{program} with the proxy stopped: failed after {} ms",
            elapsed.as_millis()
        );
        assert!(
            !output.status.success(),
            "{program} succeeded with Swift gone"
        );
        assert!(
            stderr_text(&output).contains("Input/output error"),
            "{program}: {}",
            stderr_text(&output)
        );
        assert!(
            elapsed < bound,
            "{program} took {elapsed:?}, bound {bound:?}"
        );
    }

    proxy.resume();
    for (program, path) in outage_commands(&mount, &photo) {
        let (output, _) = run_timed(&mut command(program, &[&path]), HANG_LIMIT);
        assert!(
            output.status.success(),
            "{program} after the proxy returned: {}",
            stderr_text(&output)
        );
    }
    let content = std::fs::read(mount.join(&format!("photos/{photo}"))).unwrap();
    assert_eq!(content, api.get(&format!("photos/{photo}")));
}

#[test]
fn hung_proxy_times_out() {
    let api = SwiftApi::tempauth();
    let photo = api_names(&api, "photos", "fullsize/").remove(0);
    let proxy = FaultProxy::start();
    let read_timeout = Duration::from_secs(2);
    let retry_time = Duration::from_secs(5);
    let mount = Mount::start(
        through_proxy(&api, &proxy)
            .arg("--read-timeout")
            .arg(&read_timeout.as_secs().to_string())
            .arg("--retry-time")
            .arg(&retry_time.as_secs().to_string())
            .arg("--attr-ttl")
            .arg("0")
            .arg("--dir-ttl")
            .arg("0")
            .arg("--negative-ttl")
            .arg("0"),
    );
    // The proxy accepts and never sends a response. No retry starts after
    // `retry_time`, and the last attempt ends within `read_timeout`. The
    // bound adds 5 s of slack.
    let bound = retry_time + read_timeout + Duration::from_secs(5);
    proxy.set_faults(Faults {
        delay: Duration::from_secs(3600),
        ..Faults::default()
    });

    for (program, path) in outage_commands(&mount, &photo) {
        let (output, elapsed) = run_timed(&mut command(program, &[&path]), HANG_LIMIT);
        eprintln!(
            "{program} with the proxy hung: failed after {} ms",
            elapsed.as_millis()
        );
        assert!(
            !output.status.success(),
            "{program} succeeded with Swift hung"
        );
        assert!(
            stderr_text(&output).contains("Input/output error"),
            "{program}: {}",
            stderr_text(&output)
        );
        assert!(
            elapsed < bound,
            "{program} took {elapsed:?}, bound {bound:?}"
        );
    }

    proxy.clear_faults();
    for (program, path) in outage_commands(&mount, &photo) {
        let (output, _) = run_timed(&mut command(program, &[&path]), HANG_LIMIT);
        assert!(
            output.status.success(),
            "{program} after the proxy answered again: {}",
            stderr_text(&output)
        );
    }
}

/// A `swift-proxy-server` of the test's own on a free port, with the shared
/// cluster's rings, swift.conf and tempauth configuration (only the port
/// differs), started the way `scripts/swift-up` starts its proxies. It runs
/// in a process group of its own, because on SIGTERM Swift's parent process
/// signals its whole group. Dropping it kills that group.
struct OwnSwiftProxy {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Number of processes started so far; names each one's logs.
    starts: u32,
}

impl OwnSwiftProxy {
    fn start() -> OwnSwiftProxy {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let shared = common::state_dir().join("swift/proxy-tempauth.conf");
        let config = std::fs::read_to_string(&shared)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", shared.display()));
        let config: Vec<String> = config
            .lines()
            .map(|line| {
                if line.trim_start().starts_with("bind_port") {
                    format!("bind_port = {port}")
                } else {
                    line.to_string()
                }
            })
            .collect();
        std::fs::write(dir.path().join("proxy.conf"), config.join("\n") + "\n").unwrap();
        let mut proxy = OwnSwiftProxy {
            port,
            dir,
            child: None,
            starts: 0,
        };
        proxy.spawn();
        proxy.wait_ready();
        proxy
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn access_log_path(&self, start: u32) -> PathBuf {
        self.dir.path().join(format!("access-{start}.log"))
    }

    /// Starts the server process and returns without waiting for it.
    fn spawn(&mut self) {
        self.starts += 1;
        let launcher =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lib/run-swift-server.py");
        let log = File::create(self.dir.path().join(format!("proxy-{}.log", self.starts))).unwrap();
        let child = Command::new("/usr/bin/python3")
            .arg(launcher)
            .arg(common::state_dir().join("swift"))
            .arg("--access-log")
            .arg(self.access_log_path(self.starts))
            .arg("/usr/bin/swift-proxy-server")
            .arg(self.dir.path().join("proxy.conf"))
            .arg("-v")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start swift-proxy-server");
        self.child = Some(child);
    }

    fn wait_ready(&self) {
        let http = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let url = format!("{}/healthcheck", self.url());
        let ready = wait_until(Duration::from_secs(60), || {
            http.get(&url)
                .send()
                .is_ok_and(|response| response.status().is_success())
        });
        assert!(
            ready,
            "own swift-proxy-server not ready on {url} after 60 s"
        );
    }

    /// Stops the server the way an operator restart does (SIGTERM to the
    /// parent, which signals its workers) and waits until every process of
    /// its group is gone.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = child.id() as i32;
        // SAFETY: kill sends a signal to the process this guard started.
        unsafe { libc::kill(group, libc::SIGTERM) };
        let _ = child.wait();
        // SAFETY: kill with signal 0 only checks whether the group exists.
        let gone = wait_until(Duration::from_secs(10), || unsafe {
            libc::kill(-group, 0) != 0
        });
        if !gone {
            // SAFETY: the group was created for this guard's process.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
    }
}

impl Drop for OwnSwiftProxy {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: the group was created for this guard's process.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
        }
    }
}

#[test]
fn swift_proxy_restart_during_read() {
    let api = SwiftApi::tempauth();
    let object = LargeObject::upload(&api);
    let mut swift_proxy = OwnSwiftProxy::start();
    let storage_url = format!("{}/v1/{}", swift_proxy.url(), tempauth_account(&api));
    // The default six attempts ride out about 6 s of refused connections.
    // A restart of this Python proxy took 1.5 s on an idle 2-core machine
    // and 12 s on a loaded one. So the test allows ten attempts (more than
    // 26 s of backoff), which makes it test the restart, not the load.
    let mount = Mount::start(
        MountOptions::new("tempauth")
            .env("OS_STORAGE_URL", &storage_url)
            .arg("--attempts")
            .arg("10"),
    );
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("copy.bin");

    // The reader copies 1 MiB at a time with a short pause, so that the
    // restart lands in the middle of the file, while most of it is still
    // to be fetched.
    let progress = Arc::new(AtomicU64::new(0));
    let reader_progress = progress.clone();
    let source = mount.join(&object.path);
    let reader_copy = copy.clone();
    let reader = std::thread::spawn(move || -> std::io::Result<()> {
        let mut input = File::open(source)?;
        let mut output = File::create(reader_copy)?;
        let mut buffer = vec![0u8; 1024 * 1024];
        loop {
            let read = input.read(&mut buffer)?;
            if read == 0 {
                return Ok(());
            }
            output.write_all(&buffer[..read])?;
            reader_progress.fetch_add(read as u64, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
        }
    });

    let quarter = LARGE_OBJECT_BYTES as u64 / 4;
    assert!(
        wait_until(HANG_LIMIT, || progress.load(Ordering::SeqCst) >= quarter),
        "the read did not reach a quarter of the object"
    );
    let stopped_at = progress.load(Ordering::SeqCst);
    let restart_started = Instant::now();
    swift_proxy.stop();
    let stop_time = restart_started.elapsed();
    swift_proxy.spawn();
    swift_proxy.wait_ready();
    eprintln!(
        "proxy stopped at byte {stopped_at} in {} ms, answering again after {} ms",
        stop_time.as_millis(),
        restart_started.elapsed().as_millis()
    );

    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(reader.join());
    });
    let result = receiver
        .recv_timeout(HANG_LIMIT)
        .expect("the read did not finish")
        .expect("the reader thread panicked");
    result.expect("the read failed across the restart");
    assert!(
        stopped_at < LARGE_OBJECT_BYTES as u64,
        "the read had finished before the restart"
    );
    assert_eq!(md5_of(&copy), object.etag, "MD5 of the copy");

    let second_log = std::fs::read_to_string(swift_proxy.access_log_path(2)).unwrap_or_default();
    assert!(
        second_log.contains("large.bin"),
        "the restarted proxy served none of the read; its access log:\n{second_log}"
    );
    eprintln!("requests after the restart: {:?}", mount.stats());
}

// ---------------------------------------------------------------------------
// Permission denied by Swift

/// Logs in to tempauth with one of swift-up's env files; returns the
/// storage URL and the token.
fn tempauth_login(env_name: &str) -> (String, String) {
    let env = common::credentials(env_name);
    let response = reqwest::blocking::Client::new()
        .get(&env["OS_AUTH_URL"])
        .header("X-Auth-User", &env["OS_USERNAME"])
        .header("X-Auth-Key", &env["OS_PASSWORD"])
        .send()
        .expect("tempauth login");
    assert!(response.status().is_success(), "login as {env_name}");
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_string();
    (header("x-storage-url"), header("x-auth-token"))
}

/// Sends one request with a token; returns the status.
fn swift_call(
    method: reqwest::Method,
    url: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> u16 {
    let mut request = reqwest::blocking::Client::new()
        .request(method, url)
        .header("X-Auth-Token", token)
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().unwrap().status().as_u16()
}

/// A container of the `test2` account with one object, and a container of
/// the `test` account with a symlink to it and a plain object. Swift checks
/// the symlink's target against the reading user, so `test` gets 403 until
/// `test2` grants it read access. Deleted on drop.
struct ForeignSymlink {
    test_url: String,
    test_token: String,
    test2_url: String,
    test2_token: String,
    private_container: String,
    link_container: String,
}

impl ForeignSymlink {
    fn create() -> ForeignSymlink {
        let (test_url, test_token) = tempauth_login("tempauth");
        let (test2_url, test2_token) = tempauth_login("tempauth-test2");
        let setup = ForeignSymlink {
            test_url,
            test_token,
            test2_url,
            test2_token,
            private_container: common::unique_name("faults-private"),
            link_container: common::unique_name("faults-links"),
        };
        let put = reqwest::Method::PUT;
        let private = format!("{}/{}", setup.test2_url, setup.private_container);
        let links = format!("{}/{}", setup.test_url, setup.link_container);
        let target_account = setup.test2_url.rsplit('/').next().unwrap().to_string();
        let target = format!("{}/secret.txt", setup.private_container);
        let calls = [
            swift_call(put.clone(), &private, &setup.test2_token, &[], b""),
            swift_call(
                put.clone(),
                &format!("{private}/secret.txt"),
                &setup.test2_token,
                &[],
                b"secret of test2\n",
            ),
            swift_call(put.clone(), &links, &setup.test_token, &[], b""),
            swift_call(
                put.clone(),
                &format!("{links}/plain.txt"),
                &setup.test_token,
                &[],
                b"plain\n",
            ),
            swift_call(
                put,
                &format!("{links}/link.txt"),
                &setup.test_token,
                &[
                    ("X-Symlink-Target", target.as_str()),
                    ("X-Symlink-Target-Account", target_account.as_str()),
                ],
                b"",
            ),
        ];
        assert!(
            calls.iter().all(|status| *status == 201),
            "setup statuses: {calls:?}"
        );
        setup
    }

    fn grant_read_to_test(&self) {
        let status = swift_call(
            reqwest::Method::POST,
            &format!("{}/{}", self.test2_url, self.private_container),
            &self.test2_token,
            &[("X-Container-Read", "test:tester")],
            b"",
        );
        assert_eq!(status, 204, "POST X-Container-Read");
    }
}

impl Drop for ForeignSymlink {
    fn drop(&mut self) {
        let delete = reqwest::Method::DELETE;
        let links = format!("{}/{}", self.test_url, self.link_container);
        let private = format!("{}/{}", self.test2_url, self.private_container);
        for object in ["link.txt", "plain.txt"] {
            swift_call(
                delete.clone(),
                &format!("{links}/{object}"),
                &self.test_token,
                &[],
                b"",
            );
        }
        swift_call(delete.clone(), &links, &self.test_token, &[], b"");
        swift_call(
            delete.clone(),
            &format!("{private}/secret.txt"),
            &self.test2_token,
            &[],
            b"",
        );
        swift_call(delete, &private, &self.test2_token, &[], b"");
    }
}

#[test]
fn forbidden_object_is_eacces() {
    let api = SwiftApi::tempauth();
    let setup = ForeignSymlink::create();
    let mount = Mount::start(
        MountOptions::new("tempauth")
            .arg("--attr-ttl")
            .arg("0")
            .arg("--dir-ttl")
            .arg("0")
            .arg("--negative-ttl")
            .arg("0"),
    );
    let link = mount.join(&format!("{}/link.txt", setup.link_container));

    let error = std::fs::read(&link).unwrap_err();
    assert_eq!(
        error.raw_os_error(),
        Some(libc::EACCES),
        "read of {link:?}: {error}"
    );
    let (output, _) = run_timed(&mut command("cat", &[&link]), HANG_LIMIT);
    assert!(
        stderr_text(&output).contains("Permission denied"),
        "cat: {}",
        stderr_text(&output)
    );

    // The rest of the mount keeps working, with the same token.
    let plain = std::fs::read(mount.join(&format!("{}/plain.txt", setup.link_container))).unwrap();
    assert_eq!(plain, b"plain\n");
    let photo = api_names(&api, "photos", "thumbs/").remove(0);
    let content = std::fs::read(mount.join(&format!("photos/{photo}"))).unwrap();
    assert_eq!(content, api.get(&format!("photos/{photo}")));
    assert_eq!(mount.stats()["auth"], 1, "a 403 must not renew the token");

    setup.grant_read_to_test();
    let granted = std::fs::read(&link).unwrap();
    assert_eq!(granted, b"secret of test2\n");
}

#[test]
fn reader_role_rejected_at_mount() {
    // Keystone's `reader` user holds only the reader role, which the
    // cluster's keystoneauth does not accept for any access to the account,
    // so the check before mounting fails on the account itself.
    let env = common::credentials("reader");
    let mountpoint = tempfile::tempdir().unwrap();
    let (output, _) = run_timed(
        &mut common::swiftmount_command(&env, &[], mountpoint.path()),
        Duration::from_secs(60),
    );
    let stderr = stderr_text(&output);
    assert!(!output.status.success(), "mounted as reader");
    assert!(stderr.contains("HTTP 403"), "status not named: {stderr}");
    assert!(
        stderr.contains("/v1/AUTH_"),
        "storage URL not named: {stderr}"
    );
    assert!(!common::is_mounted(mountpoint.path()));
}

// ---------------------------------------------------------------------------
// Load

/// What the stress workers compare against, read from the API.
struct Expected {
    /// `container/object` -> content, for photos and a sample of `many`.
    files: Vec<(String, Vec<u8>)>,
    /// Directory -> names in it.
    directories: Vec<(String, HashSet<String>)>,
}

impl Expected {
    fn load(api: &SwiftApi) -> Expected {
        let mut files = Vec::new();
        for name in api_names(api, "photos", "") {
            let path = format!("photos/{name}");
            let content = api.get(&path);
            files.push((path, content));
        }
        // Each object of `many` contains its own name.
        for number in (0..10_050).step_by(97) {
            let name = format!("obj-{number:05}.txt");
            files.push((format!("many/{name}"), name.into_bytes()));
        }
        let mut directories = Vec::new();
        for prefix in ["fullsize/", "thumbs/"] {
            let names = api_names(api, "photos", prefix)
                .iter()
                .map(|name| name.trim_start_matches(prefix).to_string())
                .collect();
            directories.push((format!("photos/{}", prefix.trim_end_matches('/')), names));
        }
        Expected { files, directories }
    }
}

/// Resident memory (kB) and open descriptors of a process.
fn process_usage(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kb = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .expect("VmRSS in /proc/PID/status");
    let descriptors = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    (rss_kb, descriptors)
}

/// Reads a whole file after dropping its pages from the page cache, so
/// that the read reaches swiftmount instead of being served by the kernel.
fn read_uncached(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::os::fd::AsRawFd;
    let mut file = File::open(path)?;
    // SAFETY: the descriptor is open for the lifetime of `file`; the call
    // only advises the kernel.
    unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    let mut content = Vec::new();
    file.read_to_end(&mut content)?;
    Ok(content)
}

/// Runs one `ls`, `stat` or `cat` equivalent, chosen by `step`. Returns an
/// error message when the mount's result differs from the API's.
fn stress_step(mount_root: &Path, expected: &Expected, step: u64) -> Result<(), String> {
    let pick = |count: usize| (step.wrapping_mul(0x9e37_79b9) >> 7) as usize % count;
    match step % 3 {
        0 => {
            let (directory, names) = &expected.directories[pick(expected.directories.len())];
            let listed: HashSet<String> = std::fs::read_dir(mount_root.join(directory))
                .map_err(|err| format!("ls {directory}: {err}"))?
                .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Result<_, _>>()
                .map_err(|err| format!("ls {directory}: {err}"))?;
            if &listed != names {
                return Err(format!("ls {directory}: {listed:?}, expected {names:?}"));
            }
        }
        1 => {
            let (path, content) = &expected.files[pick(expected.files.len())];
            let metadata = std::fs::metadata(mount_root.join(path))
                .map_err(|err| format!("stat {path}: {err}"))?;
            if metadata.len() != content.len() as u64 {
                return Err(format!("stat {path}: size {}", metadata.len()));
            }
        }
        _ => {
            let (path, content) = &expected.files[pick(expected.files.len())];
            let read = read_uncached(&mount_root.join(path))
                .map_err(|err| format!("cat {path}: {err}"))?;
            if &read != content {
                return Err(format!(
                    "cat {path}: {} bytes differ from the API's",
                    read.len()
                ));
            }
        }
    }
    Ok(())
}

/// Runs `threads` workers on the mount for `duration`; returns the number
/// of steps done and the errors seen.
fn stress(
    mount_root: &Path,
    expected: &Arc<Expected>,
    threads: u64,
    duration: Duration,
) -> (u64, Vec<String>) {
    let steps = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let failed = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + duration;
    let workers: Vec<_> = (0..threads)
        .map(|thread| {
            let (root, expected) = (mount_root.to_path_buf(), expected.clone());
            let (steps, errors, failed) = (steps.clone(), errors.clone(), failed.clone());
            std::thread::spawn(move || {
                let mut step = thread * 1_000_003;
                while Instant::now() < deadline && !failed.load(Ordering::SeqCst) {
                    if let Err(message) = stress_step(&root, &expected, step) {
                        errors.lock().unwrap().push(message);
                        failed.store(true, Ordering::SeqCst);
                    }
                    steps.fetch_add(1, Ordering::SeqCst);
                    step += 1;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let errors = errors.lock().unwrap().clone();
    (steps.load(Ordering::SeqCst), errors)
}

#[test]
fn stress_ls_stat_cat() {
    let seconds: u64 = std::env::var("SWIFTMOUNT_STRESS_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(60);
    let api = SwiftApi::tempauth();
    let expected = Arc::new(Expected::load(&api));
    let mount = Mount::start(MountOptions::new("tempauth"));
    let pid = mount.pid();

    // A warm-up fills the caches and the connection pool, so that the
    // baseline is the steady state rather than the empty start.
    let warm_up = Duration::from_secs((seconds / 6).max(5));
    let (_, errors) = stress(mount.path(), &expected, 16, warm_up);
    assert_eq!(errors, Vec::<String>::new(), "errors during the warm-up");
    let (rss_before, fds_before) = process_usage(pid);

    let (steps, errors) = stress(mount.path(), &expected, 16, Duration::from_secs(seconds));
    let (rss_after, fds_after) = process_usage(pid);
    eprintln!(
        "stress: {steps} steps in {seconds} s; RSS {rss_before} -> {rss_after} kB; \
         descriptors {fds_before} -> {fds_after}; requests {:?}",
        mount.stats()
    );
    assert_eq!(errors, Vec::<String>::new(), "errors under load");
    assert!(steps > 16, "only {steps} steps done");

    // Slack: up to 32 idle pooled connections may stay open, and the
    // allocator keeps some freed memory. A leak per request would exceed
    // both over thousands of steps.
    assert!(
        fds_after <= fds_before + 32,
        "descriptors grew from {fds_before} to {fds_after}"
    );
    assert!(
        rss_after <= rss_before + rss_before / 2 + 32 * 1024,
        "RSS grew from {rss_before} kB to {rss_after} kB"
    );

    // Data verified once more at the end, file by file.
    for (path, content) in &expected.files {
        let read = std::fs::read(mount.join(path)).unwrap();
        assert!(&read == content, "{path} differs from the API's content");
    }
    assert_eq!(mount.stats()["errors"], 0, "failed requests");
}

// ---------------------------------------------------------------------------
// Shutdown

#[test]
fn sigterm_during_read_exits() {
    let api = SwiftApi::tempauth();
    let names = api_names(&api, "photos", "fullsize/");
    let proxy = FaultProxy::start();
    let mount = Mount::start(through_proxy(&api, &proxy));
    let pid = mount.pid();
    let open_files: Vec<File> = names[..3]
        .iter()
        .map(|name| File::open(mount.join(&format!("photos/{name}"))).unwrap())
        .collect();

    // From now on every request hangs in the proxy, so the read below stays
    // in progress inside swiftmount until the signal.
    proxy.set_faults(Faults {
        delay: Duration::from_secs(3600),
        ..Faults::default()
    });
    let requests_before = proxy.requests();
    let hanging = mount.join(&format!("photos/{}", names[5]));
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(std::fs::read(hanging).map(|content| content.len()));
    });
    assert!(
        wait_until(Duration::from_secs(30), || proxy.requests()
            > requests_before),
        "the read sent no request"
    );

    let signalled = Instant::now();
    // SAFETY: kill sends a signal to the swiftmount process this test started.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let exited = wait_until(Duration::from_secs(60), || has_exited(pid));
    let exit_time = signalled.elapsed();
    eprintln!("exit {} ms after SIGTERM", exit_time.as_millis());
    assert!(exited, "swiftmount still running 60 s after SIGTERM");
    let read_result = receiver
        .recv_timeout(Duration::from_secs(30))
        .expect("the read in progress still hangs after the exit");
    eprintln!("read in progress ended with {read_result:?}");
    assert!(read_result.is_err(), "the hanging read returned data");
    assert!(
        !common::is_mounted(mount.path()),
        "still mounted after swiftmount exited"
    );
    drop(open_files);
    let log = mount.stop();
    assert!(log.contains("received SIGTERM"), "log:\n{log}");
}

#[test]
fn unmount_with_open_files_returns() {
    let api = SwiftApi::tempauth();
    let names = api_names(&api, "photos", "fullsize/");
    let mount = Mount::start(MountOptions::new("tempauth"));
    let pid = mount.pid();
    let mut open_file = File::open(mount.join(&format!("photos/{}", names[0]))).unwrap();
    let open_directory = std::fs::read_dir(mount.join("photos/fullsize")).unwrap();
    let limit = Duration::from_secs(10);

    // A plain unmount of a busy filesystem returns at once with EBUSY and
    // leaves the mount working.
    let (output, elapsed) = run_timed(
        command("fusermount3", &[]).arg("-u").arg(mount.path()),
        limit,
    );
    eprintln!(
        "fusermount3 -u with open files: {} after {} ms: {}",
        output.status,
        elapsed.as_millis(),
        stderr_text(&output).trim()
    );
    assert!(
        !output.status.success(),
        "unmount of a busy mount succeeded"
    );
    assert!(
        stderr_text(&output).contains("busy"),
        "fusermount3 -u: {}",
        stderr_text(&output)
    );
    assert!(common::is_mounted(mount.path()), "busy mount went away");
    let mut start = [0u8; 4096];
    open_file.read_exact(&mut start).unwrap();

    // A lazy unmount detaches it at once; the open file keeps reading, and
    // swiftmount exits once the last file is closed.
    let (output, _) = run_timed(
        command("fusermount3", &[])
            .arg("-u")
            .arg("-z")
            .arg(mount.path()),
        limit,
    );
    assert!(
        output.status.success(),
        "fusermount3 -u -z: {}",
        stderr_text(&output)
    );
    assert!(!common::is_mounted(mount.path()), "still mounted after -z");
    let mut rest = Vec::new();
    open_file.read_to_end(&mut rest).unwrap();
    let expected = api.get(&format!("photos/{}", names[0]));
    assert_eq!([&start[..], &rest[..]].concat(), expected);
    drop(open_file);
    drop(open_directory);
    assert!(
        wait_until(Duration::from_secs(20), || has_exited(pid)),
        "swiftmount still running 20 s after the last file was closed"
    );
    let log = mount.stop();
    assert!(log.contains("was unmounted"), "log:\n{log}");
}

// ---------------------------------------------------------------------------
// Ownership and permission options

#[test]
fn ownership_options_apply() {
    let api = SwiftApi::tempauth();
    let photo = format!("photos/{}", api_names(&api, "photos", "fullsize/")[0]);
    let mount = Mount::start(
        MountOptions::new("tempauth")
            .arg("--allow-other")
            .arg("--uid")
            .arg("1000")
            .arg("--gid")
            .arg("1000")
            .arg("--file-mode")
            .arg("644")
            .arg("--dir-mode")
            .arg("755"),
    );

    let output = run_ok(
        "stat",
        &[
            "-c",
            "%u %g %a",
            mount.path().to_str().unwrap(),
            mount.join("photos").to_str().unwrap(),
            mount.join(&photo).to_str().unwrap(),
        ],
    );
    assert_eq!(
        stdout_lines(&output),
        ["1000 1000 755", "1000 1000 755", "1000 1000 644"],
        "owner, group and mode of the root, a container and a file"
    );

    let listing = mount.join("photos/fullsize");
    let (output, _) = run_timed(&mut as_user(1001, "ls", &[&listing]), HANG_LIMIT);
    assert!(
        output.status.success(),
        "ls as uid 1001: {}",
        stderr_text(&output)
    );
    assert_eq!(
        stdout_lines(&output).len(),
        12,
        "entries listed to uid 1001"
    );

    let (output, _) = run_timed(
        &mut as_user(1001, "cat", &[&mount.join(&photo)]),
        HANG_LIMIT,
    );
    assert!(
        output.status.success(),
        "cat as uid 1001: {}",
        stderr_text(&output)
    );
    assert_eq!(output.stdout, api.get(&photo), "content read by uid 1001");

    // The kernel checks the mode bits (default_permissions): only the
    // owner given with --uid may create files. A scratch container keeps
    // the seeded ones unchanged.
    let container = common::unique_name("own");
    api.create_container(&container);
    let new_file = mount.join(&format!("{container}/y"));
    let (output, _) = run_timed(&mut as_user(1001, "touch", &[&new_file]), HANG_LIMIT);
    assert!(!output.status.success(), "touch as uid 1001 succeeded");
    assert!(
        stderr_text(&output).contains("Permission denied"),
        "touch as uid 1001: {}",
        stderr_text(&output)
    );
    let (output, _) = run_timed(&mut as_user(1000, "touch", &[&new_file]), HANG_LIMIT);
    assert!(
        output.status.success(),
        "touch as uid 1000: {}",
        stderr_text(&output)
    );
    assert_eq!(
        api.head(&format!("{container}/y")).0,
        200,
        "object y created"
    );
}

#[test]
fn other_user_denied_without_allow_other() {
    let mount = Mount::start(MountOptions::new("tempauth"));
    let (output, _) = run_timed(&mut as_user(1001, "ls", &[mount.path()]), HANG_LIMIT);
    assert!(!output.status.success(), "ls as uid 1001 succeeded");
    assert!(
        stderr_text(&output).contains("Permission denied"),
        "ls as uid 1001: {}",
        stderr_text(&output)
    );
    let (output, _) = run_timed(&mut command("ls", &[mount.path()]), HANG_LIMIT);
    assert!(
        output.status.success(),
        "ls as the mounting user: {}",
        stderr_text(&output)
    );
}

// ---------------------------------------------------------------------------
// TLS

/// `socat` terminating TLS on a free port of 127.0.0.1 in front of the
/// tempauth proxy, with a CA and a server certificate for 127.0.0.1 made by
/// `openssl` for this test. Dropping it kills socat's process group (the
/// listener and the processes it forked per connection).
struct TlsTerminator {
    port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl TlsTerminator {
    fn start() -> TlsTerminator {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let (ca_key, ca, key, csr, cert, extensions) = (
            file("ca.key"),
            file("ca.pem"),
            file("server.key"),
            file("server.csr"),
            file("server.pem"),
            file("server.ext"),
        );
        let mut ca_args = vec![
            "req",
            "-x509",
            "-days",
            "2",
            "-subj",
            "/CN=swiftmount test CA",
        ];
        ca_args.extend_from_slice(&ec);
        ca_args.extend_from_slice(&[
            "-keyout",
            &ca_key,
            "-out",
            &ca,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        run_ok("openssl", &ca_args);
        let mut csr_args = vec!["req", "-subj", "/CN=127.0.0.1"];
        csr_args.extend_from_slice(&ec);
        csr_args.extend_from_slice(&["-keyout", &key, "-out", &csr]);
        run_ok("openssl", &csr_args);
        std::fs::write(
            &extensions,
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run_ok(
            "openssl",
            &[
                "x509",
                "-req",
                "-days",
                "2",
                "-in",
                &csr,
                "-CA",
                &ca,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-extfile",
                &extensions,
                "-out",
                &cert,
            ],
        );

        let port = free_port();
        let log = File::create(file("socat.log")).unwrap();
        let child = Command::new("socat")
            .arg(format!(
                "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={cert},key={key},verify=0"
            ))
            .arg(format!("TCP:{}", common::fault_proxy::SWIFT_TEMPAUTH_PROXY))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start socat (scripts/install-deps installs it)");
        let listening = wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(listening, "socat not listening on port {port}");
        TlsTerminator { port, dir, child }
    }

    fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Returns the tempauth credentials, with authentication and data over TLS.
    fn mount_options(&self) -> MountOptions {
        let auth_url = format!("https://127.0.0.1:{}/auth/v1.0", self.port);
        let storage_url = format!("https://127.0.0.1:{}/v1/AUTH_test", self.port);
        MountOptions::new("tempauth")
            .env("OS_AUTH_URL", &auth_url)
            .env("ST_AUTH", &auth_url)
            .env("OS_STORAGE_URL", &storage_url)
    }
}

impl Drop for TlsTerminator {
    fn drop(&mut self) {
        // SAFETY: the group was created for the socat process this guard started.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

#[test]
fn tls_unknown_ca_rejected() {
    let tls = TlsTerminator::start();
    let options = tls.mount_options();
    let mountpoint = tempfile::tempdir().unwrap();
    let (output, _) = run_timed(
        &mut common::swiftmount_command(&options.env, &options.args, mountpoint.path()),
        Duration::from_secs(60),
    );
    let stderr = stderr_text(&output);
    eprintln!("without the CA: {stderr}");
    assert!(!output.status.success(), "mounted without trusting the CA");
    assert!(
        stderr.contains(&options.env["OS_AUTH_URL"]),
        "URL not named: {stderr}"
    );
    assert!(
        stderr.to_lowercase().contains("certificate"),
        "certificate problem not named: {stderr}"
    );
    assert!(!common::is_mounted(mountpoint.path()));
}

#[test]
fn tls_ca_bundle_accepted() {
    let api = SwiftApi::tempauth();
    let tls = TlsTerminator::start();
    let mount = Mount::start(
        tls.mount_options()
            .arg("--ca-bundle")
            .arg(tls.ca_path().to_str().unwrap()),
    );
    let photo = format!("photos/{}", api_names(&api, "photos", "thumbs/")[0]);
    let content = std::fs::read(mount.join(&photo)).unwrap();
    assert_eq!(content, api.get(&photo));
    let log = mount.stop();
    assert!(
        !log.contains("verification is disabled"),
        "verification reported off:\n{log}"
    );
}

#[test]
fn tls_insecure_warns() {
    let api = SwiftApi::tempauth();
    let tls = TlsTerminator::start();
    let mount = Mount::start(tls.mount_options().arg("--insecure"));
    let photo = format!("photos/{}", api_names(&api, "photos", "thumbs/")[0]);
    let content = std::fs::read(mount.join(&photo)).unwrap();
    assert_eq!(content, api.get(&photo));
    let log = mount.stop();
    assert!(
        !warnings_with(&log, "TLS certificate verification is disabled").is_empty(),
        "no warning about --insecure:\n{log}"
    );
}
