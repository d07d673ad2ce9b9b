//! Writes under failure: an upload that Swift keeps refusing, and a long
//! write whose token expires before the upload. Needs `scripts/swift-up`.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::cluster::api_as;
use common::fault_proxy::{Fault, FaultProxy, Faults};
use common::keystone::PrivateKeystone;
use common::{unique_name, Mount, MountOptions, SwiftApi};

fn files_in(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_in(&path));
        } else {
            found.push(std::fs::read(&path).unwrap());
        }
    }
    found
}

#[test]
fn refused_upload_fails_close_keeps_data() {
    let api = SwiftApi::tempauth();
    let container = unique_name("b15");
    api.create_container(&container);
    let proxy = FaultProxy::start();
    let staging = tempfile::tempdir().unwrap();
    let account = api.storage_url.rsplit('/').next().unwrap().to_string();
    let mount = Mount::start(
        MountOptions::new("tempauth")
            .env("OS_STORAGE_URL", &proxy.storage_url(&account))
            .arg("--attempts")
            .arg("2")
            .arg("--retry-time")
            .arg("3")
            .arg("--staging-dir")
            .arg(staging.path().to_str().unwrap()),
    );
    let data: Vec<u8> = (0..1_048_576u32).map(|i| (i % 241) as u8).collect();
    let path = mount.join(&format!("{container}/refused.bin"));
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(&data).unwrap();
    // Only the upload is refused: the lookup before create went through.
    proxy.set_faults(Faults {
        fault: Some(Fault::Unavailable { retry_after: None }),
        percent: 100,
        path_contains: "/refused.bin".to_string(),
        ..Faults::default()
    });
    let error = file.sync_all().unwrap_err();
    assert_eq!(
        error.raw_os_error(),
        Some(libc::EIO),
        "fsync error {error:?}"
    );
    // close (through drop) cannot report here; the release keeps the data.
    drop(file);
    std::thread::sleep(Duration::from_millis(500));

    assert!(proxy.faults_injected() >= 2, "the PUT was not refused");
    assert_eq!(api.head(&format!("{container}/refused.bin")).0, 404);
    let kept = files_in(staging.path());
    assert!(
        kept.contains(&data),
        "data not kept in the staging directory"
    );
    let log = mount.stop();
    assert!(log.contains("the data is kept in"), "log:\n{log}");
}

#[test]
fn upload_after_token_expiry_succeeds() {
    let keystone = PrivateKeystone::start(Some(20));
    let api = api_as("keystone");
    let container = unique_name("b10");
    api.create_container(&container);
    let mount = Mount::start(
        MountOptions::new("keystone")
            .env("OS_AUTH_URL", &keystone.url())
            .arg("--segment-size")
            .arg("4194304"),
    );

    // A slow writer: 12 MiB over about 12 s, then idle past the token's
    // 20 s lifetime before close uploads three segments and a manifest.
    let data: Vec<u8> = (0..12_582_912u32)
        .map(|i| (i.wrapping_mul(40_503) >> 13) as u8)
        .collect();
    let path = mount.join(&format!("{container}/big.bin"));
    let started = Instant::now();
    let mut file = std::fs::File::create(&path).unwrap();
    for chunk in data.chunks(1_048_576) {
        file.write_all(chunk).unwrap();
        std::thread::sleep(Duration::from_millis(1000));
    }
    std::thread::sleep(Duration::from_secs(25).saturating_sub(started.elapsed()));
    file.sync_all().unwrap();
    drop(file);

    let (status, headers) = api.head(&format!("{container}/big.bin"));
    assert_eq!(status, 200);
    assert_eq!(headers["x-static-large-object"].to_str().unwrap(), "True");
    assert_eq!(headers["content-length"].to_str().unwrap(), "12582912");
    assert_eq!(std::fs::read(&path).unwrap(), data);
    let issued = keystone.tokens_issued();
    assert!((2..=4).contains(&issued), "tokens issued: {issued}");
    let log = mount.stop();
    assert!(
        !log.contains("EIO") && !log.contains(" ERROR "),
        "log:\n{log}"
    );
}
