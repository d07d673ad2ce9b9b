//! Keystone v2.0 through the real binary, against a fake v2.0 service in the
//! test process (current Keystone no longer serves v2.0) that hands out real
//! tempauth tokens. Covers tenant by name and id, expiry from
//! `access.token.expires`, a wrong password, and secrets in a trace log.
//! Endpoint selection is in `auth_regions.rs`. Needs `scripts/swift-up` and
//! `scripts/seed`.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::fake_keystone_v2::{single_region_catalog, FakeKeystoneV2, V2Options};
use common::mount_checks::{
    authentication_lines, entry_names, mount_options, mount_with_log_filter, run_to_exit,
};
use common::Mount;

fn with_vars(mut env: HashMap<String, String>, vars: &[(&str, &str)]) -> HashMap<String, String> {
    for (name, value) in vars {
        env.insert(name.to_string(), value.to_string());
    }
    env
}

/// Reads the token lifetime in seconds from an `authenticated (...)` log line.
fn logged_lifetime(line: &str) -> Option<u64> {
    let rest = line.split("token lifetime ").nth(1)?;
    rest.split(' ').next()?.parse().ok()
}

#[test]
fn tenant_name_sent() {
    let fake = FakeKeystoneV2::start(V2Options::new(single_region_catalog));
    let mount = Mount::start(mount_options(fake.env(), &[]));
    assert!(entry_names(mount.path()).contains(&"photos".to_string()));
    drop(mount);

    let body = fake.requests()[0].json().unwrap();
    assert_eq!(body["auth"]["tenantName"], fake.tenant_name.as_str());
    assert_eq!(
        body["auth"]["passwordCredentials"]["username"],
        fake.username.as_str()
    );
    assert!(body["auth"].get("tenantId").is_none(), "{body}");
}

#[test]
fn tenant_id_sent() {
    let fake = FakeKeystoneV2::start(V2Options::new(single_region_catalog));
    let mut env = fake.env();
    env.remove("OS_TENANT_NAME");
    env.insert("OS_TENANT_ID".into(), fake.tenant_id.clone());
    let mount = Mount::start(mount_options(env, &[]));
    assert!(entry_names(mount.path()).contains(&"photos".to_string()));
    drop(mount);

    let body = fake.requests()[0].json().unwrap();
    assert_eq!(body["auth"]["tenantId"], fake.tenant_id.as_str());
    assert!(body["auth"].get("tenantName").is_none(), "{body}");
}

#[test]
fn expiry_from_token_expires() {
    let mut v2 = V2Options::new(single_region_catalog);
    v2.lifetime = Duration::from_secs(6);
    let fake = FakeKeystoneV2::start(v2);
    let mount = Mount::start(mount_options(
        fake.env(),
        &["--attr-ttl", "0", "--dir-ttl", "0"],
    ));
    entry_names(&mount.join("photos"));
    let before_expiry = fake.token_requests();

    // The margin of a 6 s token is 0.6 s, so it is due for renewal by now.
    std::thread::sleep(Duration::from_secs(6));
    let names = entry_names(&mount.join("photos"));
    let log = mount.stop();

    let lines = authentication_lines(&log);
    assert_eq!(before_expiry, 1, "token requests before expiry");
    assert_eq!(fake.token_requests(), 2, "token requests; log:\n{log}");
    assert!(names.contains(&"fullsize".to_string()), "{names:?}");
    assert!(
        lines
            .first()
            .and_then(|line| logged_lifetime(line))
            .is_some_and(|s| (4..=6).contains(&s)),
        "first authentication: {lines:?}"
    );
    assert!(
        lines
            .get(1)
            .is_some_and(|line| line.contains("authenticated (token expires soon)")),
        "second authentication: {lines:?}"
    );
    assert!(
        !log.contains("-> 401"),
        "Swift rejected a token; log:\n{log}"
    );
}

#[test]
fn wrong_password_one_request() {
    let fake = FakeKeystoneV2::start(V2Options::new(single_region_catalog));
    let env = with_vars(fake.env(), &[("OS_PASSWORD", "not-the-password")]);
    let exit = run_to_exit(&env, &[], Duration::from_secs(30));

    let line = exit.error_line();
    assert_eq!(exit.code, Some(1), "stderr: {}", exit.stderr);
    assert!(!exit.mounted);
    assert!(line.contains("authentication rejected"), "{line}");
    assert!(
        line.contains(&format!("{}/tokens", fake.auth_url())),
        "{line}"
    );
    assert!(line.contains(&fake.username), "{line}");
    assert!(!exit.stderr.contains("not-the-password"), "{}", exit.stderr);
    assert_eq!(fake.token_requests(), 1, "token requests");
}

#[test]
fn trace_log_hides_v2_secrets() {
    let fake = FakeKeystoneV2::start(V2Options::new(single_region_catalog));
    let mount = mount_with_log_filter(mount_options(fake.env(), &[]), "trace");
    let thumbs = entry_names(&mount.join("photos/thumbs"));
    let first = mount.join(&format!("photos/thumbs/{}", thumbs[0]));
    let bytes = std::fs::read(&first).unwrap();
    let log = mount.stop();

    let token = fake.issued_tokens()[0].clone();
    assert!(!bytes.is_empty(), "{} is empty", first.display());
    assert!(log.contains(" TRACE "), "no trace lines in the log");
    assert!(log.contains("authenticated (startup)"), "log:\n{log}");
    assert!(!log.contains(&fake.password), "password in the trace log");
    assert!(!log.contains(&token), "token in the trace log");
}
