//! Read-only mounts of the local Swift through tempauth and Keystone v3,
//! checked with ordinary tools (`ls`, `stat`, `cmp`, `cp`) against what the
//! Swift API returns directly. Needs `scripts/swift-up` and `scripts/seed`.

mod common;

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::{Duration, Instant, UNIX_EPOCH};

use common::{run_ok, stdout_lines, Mount, MountOptions, SwiftApi};

/// Object names under `prefix` in `container`, from the API.
fn api_names(api: &SwiftApi, container: &str, prefix: &str) -> Vec<String> {
    api.list(container)
        .iter()
        .map(|row| row["name"].as_str().unwrap().to_string())
        .filter(|name| name.starts_with(prefix))
        .collect()
}

#[test]
fn ls_sizes_and_mtimes_match_head() {
    let api = SwiftApi::tempauth();
    let mount = Mount::start(MountOptions::new("tempauth"));
    let names = api_names(&api, "photos", "fullsize/");
    assert!(names.len() >= 10, "seeded photos missing: {names:?}");

    let output = run_ok(
        "ls",
        &[
            "-l",
            "--time-style=+%s",
            mount.join("photos/fullsize").to_str().unwrap(),
        ],
    );
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), names.len() + 1, "ls -l lines: {lines:?}");

    for name in &names {
        let (status, headers) = api.head(&format!("photos/{name}"));
        assert_eq!(status, 200, "HEAD {name}");
        let size: u64 = headers["content-length"].to_str().unwrap().parse().unwrap();
        let last_modified =
            httpdate::parse_http_date(headers["last-modified"].to_str().unwrap()).unwrap();
        let expected_mtime = last_modified.duration_since(UNIX_EPOCH).unwrap().as_secs();

        let metadata = std::fs::metadata(mount.join(&format!("photos/{name}"))).unwrap();
        assert_eq!(metadata.len(), size, "size of {name}");
        // Last-Modified has one-second precision and rounds up; the listing
        // has microseconds.
        let mtime = metadata.mtime() as u64;
        assert!(
            mtime == expected_mtime || mtime + 1 == expected_mtime,
            "mtime of {name}: mount {mtime}, HEAD {expected_mtime}"
        );
        let basename = name.rsplit('/').next().unwrap();
        let line = lines.iter().find(|line| line.ends_with(basename)).unwrap();
        assert!(
            line.contains(&format!(" {size} ")),
            "ls -l line for {name}: {line}"
        );
    }
}

#[test]
fn ls_l_sends_no_head_per_file() {
    let mount = Mount::start(MountOptions::new("tempauth"));
    // Looking up the directory itself costs one request; count only ls -l.
    run_ok("stat", &[mount.join("photos/fullsize").to_str().unwrap()]);
    let before = mount.stats();
    run_ok(
        "ls",
        &["-l", mount.join("photos/fullsize").to_str().unwrap()],
    );
    let after = mount.stats();
    assert_eq!(
        after["head"] - before["head"],
        0,
        "HEAD requests during ls -l"
    );
    assert_eq!(
        after["listing"] - before["listing"],
        1,
        "listing requests during ls -l"
    );
}

#[test]
fn every_photo_matches_direct_download() {
    let api = SwiftApi::tempauth();
    let mount = Mount::start(MountOptions::new("tempauth"));
    let names = api_names(&api, "photos", "");
    assert!(names.len() >= 20, "seeded photos missing: {names:?}");
    let scratch = tempfile::tempdir().unwrap();
    for name in &names {
        let direct = scratch.path().join("direct");
        std::fs::write(&direct, api.get(&format!("photos/{name}"))).unwrap();
        let through_mount = mount.join(&format!("photos/{name}"));
        run_ok(
            "cmp",
            &[direct.to_str().unwrap(), through_mount.to_str().unwrap()],
        );
    }
}

#[test]
fn cp_photo_out_of_mount() {
    let api = SwiftApi::tempauth();
    let mount = Mount::start(MountOptions::new("tempauth"));
    let name = api_names(&api, "photos", "fullsize/")
        .into_iter()
        .next()
        .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("copy.jpg");
    run_ok(
        "cp",
        &[
            mount.join(&format!("photos/{name}")).to_str().unwrap(),
            copy.to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        api.get(&format!("photos/{name}"))
    );
}

#[test]
fn stat_nested_photo_cold() {
    let api = SwiftApi::tempauth();
    let name = api_names(&api, "photos", "fullsize/")
        .into_iter()
        .next()
        .unwrap();
    let (_, headers) = api.head(&format!("photos/{name}"));
    let mount = Mount::start(MountOptions::new("tempauth"));
    let output = run_ok(
        "stat",
        &[
            "-c",
            "%F %s %a",
            mount.join(&format!("photos/{name}")).to_str().unwrap(),
        ],
    );
    let expected = format!(
        "regular file {} 644",
        headers["content-length"].to_str().unwrap()
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), expected);
    let output = run_ok(
        "stat",
        &[
            "-c",
            "%F %a",
            mount.join("photos/fullsize").to_str().unwrap(),
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "directory 755"
    );
}

#[test]
fn many_objects_listed_once_each() {
    let mount = Mount::start(MountOptions::new("tempauth"));
    run_ok("stat", &[mount.join("many").to_str().unwrap()]);
    let before = mount.stats();
    let started = Instant::now();
    let output = run_ok("ls", &["-l", mount.join("many").to_str().unwrap()]);
    let elapsed = started.elapsed();
    let after = mount.stats();

    let names: Vec<String> = stdout_lines(&output)
        .into_iter()
        .skip(1)
        .map(|line| line.rsplit(' ').next().unwrap().to_string())
        .collect();
    let unique: HashSet<&String> = names.iter().collect();
    assert_eq!(names.len(), 10_050, "entries listed");
    assert_eq!(unique.len(), 10_050, "distinct entries");
    assert!(unique.contains(&"obj-10049.txt".to_string()));
    assert_eq!(after["head"] - before["head"], 0, "HEAD requests");
    // 10,050 rows at Swift's default limit of 10,000 per page.
    assert_eq!(after["listing"] - before["listing"], 2, "listing requests");
    eprintln!(
        "ls -l of 10,050 objects: {} ms, requests {:?}",
        elapsed.as_millis(),
        common::Mount::stats(&mount)
    );

    let last = std::fs::read_to_string(mount.join("many/obj-10049.txt")).unwrap();
    assert_eq!(last, "obj-10049.txt");
}

#[test]
fn odd_names_and_empty_objects() {
    let mount = Mount::start(MountOptions::new("tempauth"));
    let output = run_ok("ls", &["-A", mount.join("odd").to_str().unwrap()]);
    let names: HashSet<String> = stdout_lines(&output).into_iter().collect();
    for expected in ["empty.txt", "marker", "dir with space", "ünïcödé", "a"] {
        assert!(
            names.contains(expected),
            "missing {expected:?} in {names:?}"
        );
    }
    assert!(!names.contains(""), "blank entry in {names:?}");

    let empty = std::fs::read(mount.join("odd/empty.txt")).unwrap();
    assert!(empty.is_empty());
    let marker = std::fs::metadata(mount.join("odd/marker")).unwrap();
    assert!(marker.is_dir());
    assert_eq!(
        std::fs::read_dir(mount.join("odd/marker")).unwrap().count(),
        0
    );
    let spaced = std::fs::read(mount.join("odd/dir with space/file name.txt")).unwrap();
    assert!(!spaced.is_empty());
    let unicode = std::fs::read(mount.join("odd/ünïcödé/ñame.txt")).unwrap();
    assert!(!unicode.is_empty());
}

#[test]
fn reads_at_and_past_end() {
    use std::io::{Read, Seek, SeekFrom};
    let api = SwiftApi::tempauth();
    let name = api_names(&api, "photos", "fullsize/")
        .into_iter()
        .next()
        .unwrap();
    let content = api.get(&format!("photos/{name}"));
    let mount = Mount::start(MountOptions::new("tempauth"));
    let mut file = std::fs::File::open(mount.join(&format!("photos/{name}"))).unwrap();

    let mut tail = Vec::new();
    file.seek(SeekFrom::Start(content.len() as u64 - 100))
        .unwrap();
    file.read_to_end(&mut tail).unwrap();
    assert_eq!(tail, content[content.len() - 100..]);

    let mut past = [0u8; 16];
    file.seek(SeekFrom::Start(content.len() as u64 + 10))
        .unwrap();
    assert_eq!(file.read(&mut past).unwrap(), 0);

    let mut middle = vec![0u8; 4096];
    file.seek(SeekFrom::Start(1000)).unwrap();
    file.read_exact(&mut middle).unwrap();
    assert_eq!(middle, content[1000..5096]);
}

#[test]
fn keystone_v3_mount_reads_photos() {
    let api = SwiftApi::tempauth();
    let name = api_names(&api, "photos", "fullsize/")
        .into_iter()
        .next()
        .unwrap();
    let mount = Mount::start(MountOptions::new("keystone"));
    let output = run_ok(
        "ls",
        &["-l", mount.join("photos/fullsize").to_str().unwrap()],
    );
    assert!(
        stdout_lines(&output).len() > 1,
        "empty listing through Keystone"
    );
    // The Keystone account is seeded with the same generated photos.
    let through_mount = std::fs::read(mount.join(&format!("photos/{name}"))).unwrap();
    assert_eq!(
        through_mount.len(),
        api.get(&format!("photos/{name}")).len()
    );
    let log = mount.stop();
    assert!(
        log.contains("authenticated (startup) with Keystone v3"),
        "log:\n{log}"
    );
}

#[test]
fn wrong_password_fails_before_mounting() {
    // A user that does not exist: Keystone rejects it like a wrong password
    // without recording a failed login for the shared demo user.
    let mut env = common::credentials("keystone");
    let user = format!("no-such-user-{}", std::process::id());
    env.insert("OS_USERNAME".into(), user.clone());
    env.insert("OS_PASSWORD".into(), "not-the-password".into());
    let mountpoint = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = common::swiftmount_command(&env, &[], mountpoint.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exit status {}", output.status);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        stderr.contains("authentication rejected"),
        "stderr: {stderr}"
    );
    assert!(
        stderr.contains(&env["OS_AUTH_URL"]),
        "auth URL not named: {stderr}"
    );
    assert!(stderr.contains(&user), "user not named: {stderr}");
    assert!(
        !stderr.contains("not-the-password"),
        "password leaked: {stderr}"
    );
    assert!(!common::is_mounted(mountpoint.path()));
}

#[test]
fn unreachable_auth_url_named() {
    let mut env = common::credentials("tempauth");
    env.insert("OS_AUTH_URL".into(), "http://127.0.0.1:9/auth/v1.0".into());
    let mountpoint = tempfile::tempdir().unwrap();
    let output = common::swiftmount_command(&env, &[], mountpoint.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("http://127.0.0.1:9/auth/v1.0"),
        "stderr: {stderr}"
    );
    assert!(!common::is_mounted(mountpoint.path()));
}

#[test]
fn unknown_container_rejected() {
    let env = common::credentials("tempauth");
    let mountpoint = tempfile::tempdir().unwrap();
    let args = vec!["--container".to_string(), "no-such-container".to_string()];
    let output = common::swiftmount_command(&env, &args, mountpoint.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("\"no-such-container\" not found"),
        "stderr: {stderr}"
    );
    assert!(!common::is_mounted(mountpoint.path()));
}

#[test]
fn missing_mountpoint_rejected() {
    let env = common::credentials("tempauth");
    let output = common::swiftmount_command(
        &env,
        &[],
        std::path::Path::new("/nonexistent/swiftmount-mnt"),
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("/nonexistent/swiftmount-mnt"),
        "stderr: {stderr}"
    );
}

#[test]
fn container_mount_shows_objects_at_root() {
    let mount = Mount::start(
        MountOptions::new("tempauth")
            .arg("--container")
            .arg("photos"),
    );
    let names: HashSet<String> = std::fs::read_dir(mount.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        HashSet::from(["fullsize".to_string(), "thumbs".to_string()])
    );
}

#[test]
fn sigterm_unmounts_cleanly() {
    let mount = Mount::start(MountOptions::new("tempauth"));
    let pid = mount.pid();
    // SAFETY: kill sends a signal to the child this test started.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::is_mounted(mount.path()) {
        assert!(
            Instant::now() < deadline,
            "still mounted 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = mount.stop();
    assert!(log.contains("received SIGTERM"), "log:\n{log}");
}

#[test]
fn read_only_option_rejects_writes() {
    let mount = Mount::start(MountOptions::new("tempauth").arg("--read-only"));
    let status = Command::new("touch")
        .arg(mount.join("photos/new-file"))
        .status()
        .unwrap();
    assert!(!status.success());
    let error = std::fs::write(mount.join("photos/new-file"), b"x").unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EROFS));
}
