//! Keystone v3 through the real binary, against the local Keystone and
//! keystoneauth proxy of `scripts/swift-up`. Covered: password logins with
//! users, projects and domains by name and by id, and application
//! credentials. Also a token revoked mid-read, a mount idle past its token's
//! expiry, a wrong password, a garbage pre-authenticated token, one token for
//! a whole tree walk, and secrets in a trace log. The minute-long cases are
//! in `auth_keystone_long.rs`, and region selection in `auth_regions.rs`.
//! Needs `scripts/swift-up` and `scripts/seed --keystone --only photos`.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::time::Duration;

use common::cluster::{api_as, authtoken_cache_key, delete_memcached_key, ports};
use common::keystone::{
    entity_id, openstack_idempotent, AppCredential, KeystoneUser, PrivateKeystone, TokenRecorder,
};
use common::mount_checks::{
    authentication_lines, entry_names, mount_options, mount_with_log_filter, read_chunk,
    run_to_exit,
};
use common::{credentials, run_ok, Mount, MountOptions};

/// Bytes per read, and the readahead the mount is limited to, so that
/// every chunk costs about one Swift request.
const CHUNK: usize = 64 * 1024;

fn remove_vars(env: &mut HashMap<String, String>, names: &[&str]) {
    for name in names {
        env.remove(*name);
    }
}

/// Builds the RC variables of an application credential: no user, password
/// or project, because the credential carries its own.
fn app_credential_env() -> HashMap<String, String> {
    let mut env = credentials("keystone");
    remove_vars(
        &mut env,
        &[
            "OS_USERNAME",
            "OS_PASSWORD",
            "OS_PROJECT_NAME",
            "OS_USER_DOMAIN_NAME",
            "OS_PROJECT_DOMAIN_NAME",
        ],
    );
    env
}

/// Checks that the mount lists the seeded photos and authenticated exactly
/// once, at startup, and returns that log line.
fn check_listing_and_one_login(mount: Mount) -> String {
    let names = entry_names(&mount.join("photos/fullsize"));
    let log = mount.stop();
    let lines = authentication_lines(&log);
    assert!(names.len() >= 10, "photos listed: {names:?}");
    assert_eq!(lines.len(), 1, "authentications: {lines:?}");
    assert!(
        lines[0].contains("authenticated (startup) with Keystone v3"),
        "{}",
        lines[0]
    );
    lines[0].to_string()
}

#[test]
fn password_domains_by_name() {
    let mount = Mount::start(MountOptions::new("keystone"));
    let line = check_listing_and_one_login(mount);
    assert!(
        line.contains("name \"demo\" in domain name \"Default\""),
        "{line}"
    );
}

#[test]
fn password_domains_by_id() {
    let domain = entity_id("domain", "Default");
    let mut env = credentials("keystone");
    remove_vars(&mut env, &["OS_USER_DOMAIN_NAME", "OS_PROJECT_DOMAIN_NAME"]);
    env.insert("OS_USER_DOMAIN_ID".into(), domain.clone());
    env.insert("OS_PROJECT_DOMAIN_ID".into(), domain.clone());
    let mount = Mount::start(mount_options(env, &[]));

    let line = check_listing_and_one_login(mount);
    assert!(
        line.contains(&format!("name \"demo\" in domain id \"{domain}\"")),
        "{line}"
    );
    assert!(
        line.contains(&format!("project name \"demo\" in domain id \"{domain}\"")),
        "{line}"
    );
}

#[test]
fn other_domain_by_id() {
    // The Default domain's id is "default", so a domain id that is not a
    // spelling of its name is needed to tell ids from names apart.
    let domain = entity_id("domain", "otherdomain");
    let mut env = credentials("other");
    remove_vars(&mut env, &["OS_USER_DOMAIN_NAME", "OS_PROJECT_DOMAIN_NAME"]);
    env.insert("OS_USER_DOMAIN_ID".into(), domain.clone());
    env.insert("OS_PROJECT_DOMAIN_ID".into(), domain.clone());
    let mount = Mount::start(mount_options(env, &[]));

    let root = std::fs::read_dir(mount.path()).map(|entries| entries.count());
    let log = mount.stop();
    let account = format!("/v1/AUTH_{},", ports()["KEYSTONE_OTHER_PROJECT_ID"]);
    assert!(root.is_ok(), "read_dir of the root: {root:?}");
    assert!(
        log.contains(&format!("name \"otheruser\" in domain id \"{domain}\"")),
        "log:\n{log}"
    );
    assert!(
        log.contains(&account),
        "storage URL not {account}; log:\n{log}"
    );
}

#[test]
fn password_user_id_project_id() {
    let user = entity_id("user", "demo");
    let project = entity_id("project", "demo");
    let mut env = credentials("keystone");
    remove_vars(
        &mut env,
        &[
            "OS_USERNAME",
            "OS_PROJECT_NAME",
            "OS_USER_DOMAIN_NAME",
            "OS_PROJECT_DOMAIN_NAME",
        ],
    );
    env.insert("OS_USER_ID".into(), user.clone());
    env.insert("OS_PROJECT_ID".into(), project.clone());
    let mount = Mount::start(mount_options(env, &[]));

    let line = check_listing_and_one_login(mount);
    assert!(
        line.contains(&format!("user id \"{user}\", project id \"{project}\"")),
        "{line}"
    );
}

#[test]
fn app_credential_by_id() {
    let credential = AppCredential::create("swiftmount-by-id");
    let mut env = app_credential_env();
    env.insert("OS_APPLICATION_CREDENTIAL_ID".into(), credential.id.clone());
    env.insert(
        "OS_APPLICATION_CREDENTIAL_SECRET".into(),
        credential.secret.clone(),
    );
    let mount = Mount::start(mount_options(env, &[]));

    let line = check_listing_and_one_login(mount);
    assert!(
        line.contains(&format!(
            "with application credential id \"{}\"",
            credential.id
        )),
        "{line}"
    );
}

#[test]
fn app_credential_by_name() {
    let credential = AppCredential::create("swiftmount-by-name");
    let mut env = app_credential_env();
    env.insert(
        "OS_APPLICATION_CREDENTIAL_NAME".into(),
        credential.name.clone(),
    );
    env.insert(
        "OS_APPLICATION_CREDENTIAL_SECRET".into(),
        credential.secret.clone(),
    );
    env.insert("OS_USERNAME".into(), "demo".into());
    env.insert("OS_USER_DOMAIN_NAME".into(), "Default".into());
    let mount = Mount::start(mount_options(env, &[]));

    let line = check_listing_and_one_login(mount);
    assert!(
        line.contains(&format!(
            "name \"demo\" in domain name \"Default\" with application credential name \"{}\"",
            credential.name
        )),
        "{line}"
    );
}

#[test]
fn trace_log_hides_v3_secrets() {
    let credential = AppCredential::create("swiftmount-trace");
    let recorder = TokenRecorder::start();
    let mut env = app_credential_env();
    env.insert("OS_AUTH_URL".into(), recorder.url());
    env.insert("OS_APPLICATION_CREDENTIAL_ID".into(), credential.id.clone());
    env.insert(
        "OS_APPLICATION_CREDENTIAL_SECRET".into(),
        credential.secret.clone(),
    );
    let mount = mount_with_log_filter(mount_options(env, &[]), "trace");
    let photo = mount.join(&format!(
        "photos/fullsize/{}",
        entry_names(&mount.join("photos/fullsize"))[0]
    ));
    let bytes = std::fs::read(&photo).unwrap();
    let log = mount.stop();

    let token = recorder.last_token();
    assert!(!bytes.is_empty(), "{} is empty", photo.display());
    assert!(log.contains(" TRACE "), "no trace lines in the log");
    assert!(log.contains("authenticated (startup)"), "log:\n{log}");
    assert!(
        !log.contains(&credential.secret),
        "application credential secret in the trace log"
    );
    assert!(!log.contains(&token), "token in the trace log");
}

/// `ls -lR` three times and a read of every photo cost one token, counted by
/// the mount and by a private Keystone that serves this mount alone.
#[test]
fn tree_walk_one_token() {
    let keystone = PrivateKeystone::start(None);
    let mut env = credentials("keystone");
    env.insert("OS_AUTH_URL".into(), keystone.url());
    let mount = Mount::start(mount_options(env, &[]));
    let root = mount.path().to_str().unwrap().to_string();

    for _ in 0..3 {
        run_ok("ls", &["-lR", &root]);
    }
    let api = api_as("keystone");
    let listed = api.list("photos");
    let mut bytes_read = 0;
    for row in &listed {
        let name = row["name"].as_str().unwrap();
        bytes_read += std::fs::read(mount.join(&format!("photos/{name}")))
            .unwrap_or_else(|err| panic!("reading photos/{name}: {err}"))
            .len() as u64;
    }
    let stats = mount.stats();
    drop(mount);

    let expected_bytes: u64 = listed
        .iter()
        .map(|row| row["bytes"].as_u64().unwrap())
        .sum();
    assert!(listed.len() >= 20, "seeded photos: {}", listed.len());
    assert_eq!(bytes_read, expected_bytes, "bytes read from photos");
    assert_eq!(stats["auth"], 1, "authentications by the mount");
    assert_eq!(keystone.tokens_issued(), 1, "tokens issued by Keystone");
}

/// A mount left idle for three lifetimes of its token renews once, before
/// its next request, so Swift never sees the expired token. A private
/// Keystone issues 5 s tokens.
#[test]
fn idle_past_expiry_renews_once() {
    let keystone = PrivateKeystone::start(Some(5));
    let mut env = credentials("keystone");
    env.insert("OS_AUTH_URL".into(), keystone.url());
    let mount = Mount::start(mount_options(env, &["--attr-ttl", "0", "--dir-ttl", "0"]));
    let photos = mount.join("photos/fullsize");
    let before_idle = entry_names(&photos);
    let log_before_idle = mount.log();

    std::thread::sleep(Duration::from_secs(15));
    let after_idle = entry_names(&photos);
    let log = mount.stop();

    let idle_part = &log[log_before_idle.len().min(log.len())..];
    let renewals = authentication_lines(idle_part);
    assert_eq!(after_idle, before_idle, "listing after the idle time");
    assert_eq!(renewals.len(), 1, "authentications after the idle time");
    assert!(
        renewals[0].contains("authenticated (token expires soon)"),
        "{}",
        renewals[0]
    );
    assert!(
        !idle_part.contains("-> 401"),
        "Swift rejected a token after the idle time; log:\n{log}"
    );
    assert_eq!(
        keystone.tokens_issued(),
        authentication_lines(&log).len(),
        "tokens issued by Keystone"
    );
}

/// A token revoked with `openstack token revoke` in the middle of a read:
/// one renewal, and the read goes on.
#[test]
fn token_revoked_mid_read() {
    let user = KeystoneUser::create("swiftmount-revoke");
    let recorder = TokenRecorder::start();
    let mut env = user.env();
    env.insert("OS_AUTH_URL".into(), recorder.url());
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
            "--dir-ttl",
            "0",
        ],
    ));
    let name = entry_names(&mount.join("photos/fullsize")).pop().unwrap();
    let mut file = std::fs::File::open(mount.join(&format!("photos/fullsize/{name}"))).unwrap();
    let mut data = vec![0; 4 * CHUNK];
    let first_part = read_chunk(&mut file, &mut data).unwrap();

    let revoked = recorder.last_token();
    openstack_idempotent("admin", &["token", "revoke", &revoked]);
    // The proxy would otherwise accept its cached validation of the token
    // for up to 300 s (keystonemiddleware's token_cache_time).
    let evicted = delete_memcached_key(&authtoken_cache_key(&revoked));
    let mut rest = Vec::new();
    let rest_result = file.read_to_end(&mut rest);
    let listing = std::fs::read_dir(mount.join("photos")).map(|entries| entries.count());
    let stats = mount.stats();
    let log = mount.stop();

    data.truncate(first_part);
    data.extend_from_slice(&rest);
    let renewals: Vec<&str> = authentication_lines(&log)
        .into_iter()
        .filter(|line| line.contains("authenticated (Swift answered 401)"))
        .collect();
    assert!(evicted, "the proxy had no cached validation of the token");
    assert!(
        rest_result.is_ok(),
        "read after revocation: {rest_result:?}"
    );
    assert!(
        data == api_as("keystone").get(&format!("photos/fullsize/{name}")),
        "{name} differs from the API's copy"
    );
    assert!(listing.is_ok(), "ls after revocation: {listing:?}");
    assert_eq!(renewals.len(), 1, "renewals after a 401; log:\n{log}");
    assert_eq!(recorder.token_requests(), 2, "token requests");
    assert_eq!(stats["auth"], 2, "auth counter of the mount");
    assert_ne!(
        recorder.tokens()[1],
        revoked,
        "renewal returned the revoked token"
    );
}

#[test]
fn wrong_password_names_user_id() {
    // A user of its own: Keystone counts failed logins in the database, and
    // the next successful login of that user writes again to reset the count.
    let user = KeystoneUser::create("swiftmount-wrong");
    let mut env = user.env();
    remove_vars(&mut env, &["OS_USERNAME", "OS_USER_DOMAIN_NAME"]);
    env.insert("OS_USER_ID".into(), user.id.clone());
    env.insert("OS_PASSWORD".into(), "wrong-password".into());
    let exit = run_to_exit(&env, &[], Duration::from_secs(30));

    let line = exit.error_line();
    assert_eq!(exit.code, Some(1), "stderr: {}", exit.stderr);
    assert!(
        exit.elapsed < Duration::from_secs(10),
        "took {:?}",
        exit.elapsed
    );
    assert!(!exit.mounted, "mounted with a wrong password");
    assert!(line.contains("authentication rejected"), "{line}");
    assert!(
        line.contains(&format!("{}/auth/tokens", env["OS_AUTH_URL"])),
        "{line}"
    );
    assert!(line.contains(&format!("user id \"{}\"", user.id)), "{line}");
    assert!(!exit.stderr.contains("wrong-password"), "{line}");
}

#[test]
fn garbage_preauth_token_rejected() {
    let token = common::unique_name("garbage-token");
    let env = HashMap::from([
        ("OS_AUTH_TOKEN".to_string(), token.clone()),
        (
            "OS_STORAGE_URL".to_string(),
            ports()["KEYSTONE_DEMO_STORAGE_URL"].clone(),
        ),
    ]);
    let exit = run_to_exit(&env, &[], Duration::from_secs(30));

    let line = exit.error_line();
    assert_eq!(exit.code, Some(1), "stderr: {}", exit.stderr);
    assert!(!exit.mounted, "mounted with a garbage token");
    assert!(
        line.contains("the pre-authenticated token (OS_AUTH_TOKEN) was rejected"),
        "{line}"
    );
    assert!(!exit.stderr.contains("panicked"), "{}", exit.stderr);
    assert!(!exit.stderr.contains(&token), "token in: {}", exit.stderr);
}
