//! The two minute-long Keystone v3 tests: a read across several token
//! lifetimes, and a password changed while mounted. They live in a test
//! binary of their own so that they run side by side instead of queueing
//! behind the shorter tests of `auth_keystone.rs`. Needs `scripts/swift-up`
//! and `scripts/seed --keystone --only photos`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::cluster::{api_as, authtoken_cache_key, delete_memcached_key};
use common::keystone::{KeystoneUser, PrivateKeystone, TokenRecorder};
use common::mount_checks::{authentication_lines, entry_names, mount_options, read_chunk};
use common::{credentials, Mount};

/// Bytes per read of the slow reader, and the readahead the mount is
/// limited to, so that every chunk costs about one Swift request.
const CHUNK: usize = 64 * 1024;

fn errno(error: &std::io::Error) -> i32 {
    error.raw_os_error().unwrap_or(0)
}

/// Reads `path` in `CHUNK`s, sleeping `pause` after each, until the end or
/// until `deadline`. Returns the bytes read and whether the end was reached.
fn read_slowly(
    path: &Path,
    pause: Duration,
    deadline: Instant,
) -> std::io::Result<(Vec<u8>, bool)> {
    let mut file = std::fs::File::open(path)?;
    let mut data = Vec::new();
    let mut chunk = vec![0; CHUNK];
    loop {
        let read = read_chunk(&mut file, &mut chunk)?;
        data.extend_from_slice(&chunk[..read]);
        if read < CHUNK {
            return Ok((data, true));
        }
        if Instant::now() >= deadline {
            return Ok((data, false));
        }
        std::thread::sleep(pause);
    }
}

/// A read that lasts several token lifetimes: a private Keystone issues
/// 20 s tokens, renewed 2 s (a tenth of the lifetime) before they expire.
#[test]
fn read_across_token_lifetimes() {
    let keystone = PrivateKeystone::start(Some(20));
    let mut env = credentials("keystone");
    env.insert("OS_AUTH_URL".into(), keystone.url());
    let mount = Mount::start(mount_options(
        env,
        &[
            "--max-readahead",
            "65536",
            "--first-read",
            "65536",
            "--small-file-max",
            "0",
            "--attr-ttl",
            "0",
        ],
    ));
    let api = api_as("keystone");

    let deadline = Instant::now() + Duration::from_secs(50);
    let mut complete = Vec::new();
    for name in entry_names(&mount.join("photos/fullsize")) {
        let path = mount.join(&format!("photos/fullsize/{name}"));
        let (data, finished) = read_slowly(&path, Duration::from_secs(1), deadline)
            .unwrap_or_else(|err| panic!("reading {name}: {err}; log:\n{}", mount.log()));
        if finished {
            complete.push((name, data));
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    let stats = mount.stats();
    let log = mount.stop();

    let lines = authentication_lines(&log);
    let issued = keystone.tokens_issued();
    eprintln!(
        "read {} photos in full; {} authentications, {issued} tokens issued",
        complete.len(),
        lines.len()
    );
    assert!(!complete.is_empty(), "no photo read to its end");
    for (name, data) in &complete {
        assert!(
            *data == api.get(&format!("photos/fullsize/{name}")),
            "{name} differs from the API's copy"
        );
    }
    assert!((2..=5).contains(&lines.len()), "authentications: {lines:?}");
    assert_eq!(issued as u64, stats["auth"], "tokens issued by Keystone");
    assert!(
        lines[1..]
            .iter()
            .all(|line| line.contains("(token expires soon)")),
        "renewals: {lines:?}"
    );
    assert!(
        !log.contains("-> 401"),
        "Swift rejected a token; log:\n{log}"
    );
}

/// A password changed while mounted: every later `ls` fails at once with
/// EACCES, and the rejected credentials are tried again only as the backoff
/// allows (2 s doubling to 60 s: 5 attempts in 60 s).
#[test]
fn password_change_no_storm() {
    let mut user = KeystoneUser::create("swiftmount-passwd");
    let recorder = TokenRecorder::start();
    let mut env = user.env();
    env.insert("OS_AUTH_URL".into(), recorder.url());
    let mount = Mount::start(mount_options(
        env,
        &["--attr-ttl", "0", "--dir-ttl", "0", "--negative-ttl", "0"],
    ));
    let photos = mount.join("photos");
    let before_change = std::fs::read_dir(&photos).map(|entries| entries.count());

    user.set_password(&format!("changed-{}", user.password));
    // The proxy would otherwise accept its cached validation of the token
    // for up to 300 s (keystonemiddleware's token_cache_time).
    delete_memcached_key(&authtoken_cache_key(&recorder.last_token()));
    let requests_before = recorder.token_requests();
    let started = Instant::now();
    let mut outcomes = Vec::new();
    while started.elapsed() < Duration::from_secs(60) {
        let attempt = Instant::now();
        let result = std::fs::read_dir(&photos).map(|entries| entries.count());
        outcomes.push((attempt.elapsed(), result));
        std::thread::sleep(Duration::from_secs(1).saturating_sub(attempt.elapsed()));
    }
    let requests = recorder.token_requests() - requests_before;
    let log = mount.stop();

    let succeeded = outcomes.iter().filter(|(_, result)| result.is_ok()).count();
    let not_eacces: Vec<String> = outcomes
        .iter()
        .filter_map(|(_, result)| result.as_ref().err())
        .filter(|error| errno(error) != libc::EACCES)
        .map(|error| error.to_string())
        .collect();
    let slowest = outcomes.iter().map(|(took, _)| *took).max().unwrap();
    eprintln!(
        "{} ls attempts, {requests} token requests in 60 s, slowest ls {slowest:?}",
        outcomes.len()
    );
    assert!(
        before_change.is_ok(),
        "ls before the change: {before_change:?}"
    );
    assert!(outcomes.len() >= 50, "only {} attempts", outcomes.len());
    assert_eq!(succeeded, 0, "ls attempts that succeeded");
    assert!(
        not_eacces.is_empty(),
        "errors other than EACCES: {not_eacces:?}"
    );
    // A hang check, not a benchmark: a waiting ls must fail, not block.
    assert!(
        slowest < Duration::from_secs(10),
        "slowest ls took {slowest:?}"
    );
    assert!(
        (1..=6).contains(&requests),
        "token requests in 60 s: {requests}"
    );
    assert!(
        log.contains("authentication rejected by"),
        "no rejection in the log:\n{log}"
    );
}
