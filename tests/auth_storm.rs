//! Single-flight renewal through the real binary: 64 reads hit a 401 at
//! once and the identity service receives exactly one more authentication.
//!
//! The identity service is the fake v2.0 service of `common`, handing out
//! real tempauth tokens. The test invalidates the current token by deleting
//! it from memcached, where tempauth keeps it, so that Swift answers 401.
//! Tokens of the shared users are in use by other tests at the same moment,
//! so the token belongs to a user of a private proxy that nobody else knows.

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::cluster::{delete_memcached_key, tempauth_token_key, ScratchContainer};
use common::fake_keystone_v2::{single_region_catalog, FakeKeystoneV2, V2Options};
use common::mount_checks::{authentication_lines, mount_options};
use common::swift_proxy::PrivateTempauthProxy;
use common::Mount;

const FILES: usize = 64;

fn file_name(index: usize) -> String {
    format!("file-{index:02}.txt")
}

fn file_body(index: usize) -> Vec<u8> {
    format!("body of file {index}\n").into_bytes()
}

#[test]
fn concurrent_401_one_authentication() {
    let proxy = PrivateTempauthProxy::start();
    let mut container = ScratchContainer::create(&proxy.user(), "auth-storm");
    for index in 0..FILES {
        container.put(&file_name(index), &file_body(index));
    }
    let mut v2 = V2Options::new(single_region_catalog);
    v2.tempauth = proxy.user();
    // A slow renewal keeps the first 401's authentication in flight while
    // the other reads get their own 401s.
    v2.delay = Duration::from_secs(1);
    let fake = FakeKeystoneV2::start(v2);
    let mount = Mount::start(mount_options(
        fake.env(),
        &[
            "--container",
            &container.name,
            "--attr-ttl",
            "0",
            "--dir-ttl",
            "0",
            "--negative-ttl",
            "0",
            "--threads",
            "64",
        ],
    ));

    let first_token = fake.issued_tokens()[0].clone();
    let invalidated = delete_memcached_key(&tempauth_token_key(&first_token));
    let barrier = Arc::new(Barrier::new(FILES));
    let readers: Vec<_> = (0..FILES)
        .map(|index| {
            let path = mount.join(&file_name(index));
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                std::fs::read(&path)
            })
        })
        .collect();
    let results: Vec<_> = readers
        .into_iter()
        .map(|reader| reader.join().unwrap())
        .collect();
    let stats = mount.stats();
    let log = mount.stop();

    let tokens = fake.issued_tokens();
    let rejected = log
        .lines()
        .filter(|line| line.contains(" -> 401 in "))
        .count();
    assert!(invalidated, "token {first_token:.12}... not in memcached");
    for (index, result) in results.iter().enumerate() {
        match result {
            Ok(bytes) => assert_eq!(bytes, &file_body(index), "{}", file_name(index)),
            Err(err) => panic!("reading {}: {err}; log:\n{log}", file_name(index)),
        }
    }
    let short_tokens: Vec<&str> = tokens.iter().map(|token| &token[..12]).collect();
    assert_eq!(
        fake.token_requests(),
        2,
        "token requests; tokens handed out {short_tokens:?}; authentications:\n{}",
        authentication_lines(&log).join("\n")
    );
    assert_eq!(stats["auth"], 2, "auth counter of the mount");
    assert_ne!(tokens[1], first_token, "renewal returned the deleted token");
    assert!(
        rejected > 1,
        "only {rejected} request(s) saw a 401, so the reads did not overlap"
    );
    let renewals: Vec<&str> = authentication_lines(&log)
        .into_iter()
        .filter(|line| line.contains("authenticated (Swift answered 401)"))
        .collect();
    assert_eq!(renewals.len(), 1, "renewals after a 401: {renewals:?}");
    eprintln!("requests that saw a 401: {rejected}");
}
