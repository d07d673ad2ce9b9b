//! Choosing the object-store endpoint from a Keystone catalog, through the
//! real binary. Fake v2.0 and v3 services list, in this order: RegionOne
//! public (returns 503), RegionTwo admin (returns 503), RegionTwo internal
//! (forwards to the real Swift and counts), and RegionTwo public (the real
//! Swift). A client that takes "the first endpoint" or "the first public
//! URL" picks a wrong one. The real Keystone of `scripts/swift-up` has
//! RegionOne and RegionTwo endpoints too, RegionTwo's by the host name
//! `localhost`. Needs `scripts/swift-up` and `scripts/seed` (with
//! `--keystone --only photos` for the real Keystone cases).

mod common;

use std::any::Any;
use std::collections::HashMap;
use std::time::Duration;

use common::cluster::ports;
use common::fake_keystone_v2::{misleading_catalog, Decoys, FakeKeystoneV2, V2Options};
use common::fake_keystone_v3::{misleading_catalog_v3, FakeKeystoneV3};
use common::mount_checks::{entry_names, mount_options, run_to_exit};
use common::{credentials, Mount};

/// Every available endpoint, as the error message lists them.
const AVAILABLE: &str =
    "available: RegionOne/public, RegionTwo/admin, RegionTwo/internal, RegionTwo/public";

/// A fake identity service with the misleading catalog, and its decoys.
struct Service {
    decoys: Decoys,
    env: HashMap<String, String>,
    /// The fake server, kept running until the test ends.
    _server: Box<dyn Any>,
}

/// Starts the fake of Keystone `version` (2 or 3).
fn misleading_service(version: u8) -> Service {
    let decoys = Decoys::start();
    let urls = decoys.urls();
    let (env, server): (HashMap<String, String>, Box<dyn Any>) = if version == 2 {
        let fake = FakeKeystoneV2::start(V2Options::new(move |storage_url| {
            misleading_catalog(&urls, storage_url)
        }));
        (fake.env(), Box::new(fake))
    } else {
        let fake =
            FakeKeystoneV3::start(move |storage_url| misleading_catalog_v3(&urls, storage_url));
        (fake.env(), Box::new(fake))
    };
    Service {
        decoys,
        env,
        _server: server,
    }
}

impl Service {
    fn env_with(&self, vars: &[(&str, &str)]) -> HashMap<String, String> {
        let mut env = self.env.clone();
        for (name, value) in vars {
            env.insert(name.to_string(), value.to_string());
        }
        env
    }
}

fn check_region_two_public(version: u8) {
    let service = misleading_service(version);
    let env = service.env_with(&[("OS_REGION_NAME", "RegionTwo"), ("OS_INTERFACE", "public")]);
    let mount = Mount::start(mount_options(env, &[]));

    let photos = entry_names(&mount.join("photos/fullsize"));
    let log = mount.stop();
    assert!(photos.len() >= 10, "photos listed: {photos:?}");
    assert!(
        log.contains("storage URL http://127.0.0.1:8080/v1/AUTH_test,"),
        "storage URL not the real Swift; log:\n{log}"
    );
    assert_eq!(
        service.decoys.unavailable.count(),
        0,
        "RegionOne public requests"
    );
    assert_eq!(service.decoys.admin.count(), 0, "RegionTwo admin requests");
    assert_eq!(
        service.decoys.internal.count(),
        0,
        "RegionTwo internal requests"
    );
}

fn check_internal_interface(version: u8) {
    let service = misleading_service(version);
    let env = service.env_with(&[
        ("OS_REGION_NAME", "RegionTwo"),
        ("OS_INTERFACE", "internal"),
    ]);
    let mount = Mount::start(mount_options(env, &[]));

    let photos = entry_names(&mount.join("photos/fullsize"));
    let stats = mount.stats();
    let sent = stats["head"] + stats["get"] + stats["listing"];
    let log = mount.stop();
    let internal = &service.decoys.internal;
    assert!(photos.len() >= 10, "photos listed: {photos:?}");
    assert!(
        log.contains(&format!("storage URL {}/v1/AUTH_test,", internal.url())),
        "storage URL not the internal endpoint; log:\n{log}"
    );
    assert!(
        internal.count() as u64 >= sent,
        "internal endpoint got {} requests, the mount sent {sent}",
        internal.count()
    );
    assert_eq!(
        service.decoys.unavailable.count(),
        0,
        "RegionOne public requests"
    );
    assert_eq!(service.decoys.admin.count(), 0, "RegionTwo admin requests");
}

fn check_unknown_region(version: u8) {
    let service = misleading_service(version);
    let env = service.env_with(&[("OS_REGION_NAME", "RegionThree")]);
    let exit = run_to_exit(&env, &[], Duration::from_secs(30));

    let line = exit.error_line();
    assert_eq!(exit.code, Some(1), "stderr: {}", exit.stderr);
    assert!(!exit.mounted, "mounted although the region does not exist");
    assert!(line.contains("region RegionThree"), "{line}");
    assert!(line.contains(AVAILABLE), "{line}");
    assert!(line.contains("OS_REGION_NAME"), "{line}");
    assert_eq!(
        service.decoys.unavailable.count(),
        0,
        "RegionOne public requests"
    );
}

fn check_no_region(version: u8) {
    let service = misleading_service(version);
    let exit = run_to_exit(&service.env, &[], Duration::from_secs(30));

    let line = exit.error_line();
    assert_eq!(exit.code, Some(1), "stderr: {}", exit.stderr);
    assert!(!exit.mounted, "mounted without choosing a region");
    assert!(line.contains("region (not set)"), "{line}");
    assert!(line.contains(AVAILABLE), "{line}");
    assert_eq!(
        service.decoys.unavailable.count(),
        0,
        "RegionOne public requests"
    );
}

#[test]
fn v2_region_two_public() {
    check_region_two_public(2);
}

#[test]
fn v2_internal_interface() {
    check_internal_interface(2);
}

#[test]
fn v2_unknown_region_listed() {
    check_unknown_region(2);
}

#[test]
fn v2_no_region_fails() {
    check_no_region(2);
}

#[test]
fn v3_region_two_public() {
    check_region_two_public(3);
}

#[test]
fn v3_internal_interface() {
    check_internal_interface(3);
}

#[test]
fn v3_unknown_region_listed() {
    check_unknown_region(3);
}

#[test]
fn v3_no_region_fails() {
    check_no_region(3);
}

#[test]
fn keystone_region_two() {
    let mut env = credentials("keystone");
    env.insert("OS_REGION_NAME".into(), "RegionTwo".into());
    let mount = Mount::start(mount_options(env, &[]));

    let photos = entry_names(&mount.join("photos/fullsize"));
    let log = mount.stop();
    let project = &ports()["KEYSTONE_DEMO_PROJECT_ID"];
    let expected = format!(
        "storage URL http://localhost:{}/v1/AUTH_{project},",
        ports()["KEYSTONE_PROXY_PORT"]
    );
    assert!(photos.len() >= 10, "photos listed: {photos:?}");
    assert!(log.contains(&expected), "not {expected}; log:\n{log}");
}

#[test]
fn keystone_no_region_fails() {
    let mut env = credentials("keystone");
    env.remove("OS_REGION_NAME");
    let exit = run_to_exit(&env, &[], Duration::from_secs(30));

    let line = exit.error_line();
    assert_eq!(exit.code, Some(1), "stderr: {}", exit.stderr);
    assert!(!exit.mounted, "mounted without choosing a region");
    assert!(line.contains("region (not set)"), "{line}");
    assert!(line.contains("RegionOne/public"), "{line}");
    assert!(line.contains("RegionTwo/public"), "{line}");
}
