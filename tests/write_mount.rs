//! Writing through the mount: create, overwrite, append, truncate, touch,
//! mkdir, rmdir, unlink and rename, checked against the Swift API. Each test
//! works in its own container. Needs `scripts/swift-up`.

mod common;

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;
use std::time::{Duration, Instant, UNIX_EPOCH};

use common::{run_ok, stdout_lines, unique_name, Mount, MountOptions, SwiftApi};

fn sh(script: &str) -> std::process::Output {
    Command::new("sh").arg("-c").arg(script).output().unwrap()
}

fn header(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|value| value.to_str().unwrap().to_string())
}

/// Writes the three segments and the DLO and SLO manifests of the
/// large-object cases into `container` (segments in `<container>_segments`).
fn put_large_objects(api: &SwiftApi, container: &str) {
    let segments = format!("{container}_segments");
    api.create_container(&segments);
    api.put(
        &format!("{segments}/big/00000001"),
        &vec![b'a'; 1_048_576],
        &[],
    );
    api.put(
        &format!("{segments}/big/00000002"),
        &vec![b'b'; 1_048_576],
        &[],
    );
    api.put(&format!("{segments}/big/00000003"), b"tail-bytes", &[]);
    api.put(
        &format!("{container}/dlo.bin"),
        b"",
        &[("X-Object-Manifest", &format!("{segments}/big/"))],
    );
    let manifest = format!(
        r#"[{{"path":"/{segments}/big/00000001"}},{{"path":"/{segments}/big/00000002"}},{{"path":"/{segments}/big/00000003"}}]"#
    );
    let response = api
        .request(reqwest::Method::PUT, &format!("{container}/slo.bin"))
        .query(&[("multipart-manifest", "put")])
        .body(manifest)
        .send()
        .unwrap();
    assert!(
        response.status().is_success(),
        "SLO manifest: {}",
        response.status()
    );
}

fn md5_of(path: &std::path::Path) -> String {
    let output = run_ok("md5sum", &[path.to_str().unwrap()]);
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn overwrite_append_truncate_touch() {
    let api = SwiftApi::tempauth();
    let container = unique_name("zb");
    api.create_container(&container);
    api.put(&format!("{container}/hello"), b"", &[]);
    api.put(&format!("{container}/five"), b"12345", &[]);
    let mount = Mount::start(MountOptions::new("tempauth"));
    let dir = mount.join(&container);
    let d = dir.to_str().unwrap();

    assert!(sh(&format!("echo hello > {d}/hello")).status.success());
    assert_eq!(std::fs::read(dir.join("hello")).unwrap(), b"hello\n");
    assert!(sh(&format!(": > {d}/five")).status.success());
    assert_eq!(std::fs::metadata(dir.join("five")).unwrap().len(), 0);
    assert!(sh(&format!("printf abc >> {d}/five")).status.success());
    run_ok("truncate", &["-s", "3", &format!("{d}/hello")]);
    run_ok("touch", &[&format!("{d}/new0")]);

    assert_eq!(api.get(&format!("{container}/hello")), b"hel");
    assert_eq!(api.get(&format!("{container}/five")), b"abc");
    let (status, headers) = api.head(&format!("{container}/new0"));
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-length").as_deref(), Some("0"));
}

#[test]
fn root_file_rejected_mkdir_creates_container() {
    let api = SwiftApi::tempauth();
    let container = unique_name("newcont");
    let mount = Mount::start(MountOptions::new("tempauth"));
    let error = std::fs::write(mount.join("rootfile.txt"), b"x").unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EPERM));
    let (status, _) = api.head("rootfile.txt");
    assert_eq!(status, 404, "a container was created for the file");

    std::fs::create_dir(mount.join(&container)).unwrap();
    let (status, _) = api.head(&container);
    assert_eq!(status, 204);
    drop(mount);

    let mount = Mount::start(MountOptions::new("tempauth"));
    assert!(std::fs::metadata(mount.join(&container)).unwrap().is_dir());
}

#[test]
fn touch_keeps_data_and_metadata() {
    let api = SwiftApi::tempauth();
    let container = unique_name("lo");
    api.create_container(&container);
    let plain: Vec<u8> = (0..1_048_576u32).map(|i| (i * 7 % 251) as u8).collect();
    api.put(
        &format!("{container}/plain.bin"),
        &plain,
        &[
            ("Content-Type", "image/png"),
            ("X-Object-Meta-Color", "blue"),
        ],
    );
    put_large_objects(&api, &container);
    let mount = Mount::start(MountOptions::new("tempauth"));
    let names = ["plain.bin", "dlo.bin", "slo.bin"];
    let before: Vec<String> = names
        .iter()
        .map(|n| md5_of(&mount.join(&format!("{container}/{n}"))))
        .collect();

    for name in names {
        let path = mount.join(&format!("{container}/{name}"));
        run_ok(
            "touch",
            &[
                "-m",
                "-d",
                "2020-01-02 03:04:05 UTC",
                path.to_str().unwrap(),
            ],
        );
    }
    for (name, md5) in names.iter().zip(&before) {
        let path = mount.join(&format!("{container}/{name}"));
        let output = run_ok("stat", &["-c", "%Y", path.to_str().unwrap()]);
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            "1577934245",
            "mtime of {name}"
        );
        assert_eq!(&md5_of(&path), md5, "content of {name}");
    }
    run_ok(
        "touch",
        &[
            "-a",
            mount
                .join(&format!("{container}/plain.bin"))
                .to_str()
                .unwrap(),
        ],
    );

    let (_, headers) = api.head(&format!("{container}/plain.bin"));
    assert_eq!(
        header(&headers, "content-type").as_deref(),
        Some("image/png")
    );
    assert_eq!(
        header(&headers, "x-object-meta-color").as_deref(),
        Some("blue")
    );
    assert!(header(&headers, "x-object-meta-mtime")
        .unwrap()
        .starts_with("1577934245"));
    let (_, headers) = api.head(&format!("{container}/dlo.bin"));
    assert!(
        header(&headers, "x-object-manifest").is_some(),
        "DLO lost its manifest"
    );
    assert_eq!(
        header(&headers, "content-length").as_deref(),
        Some("2097162")
    );
    let (_, headers) = api.head(&format!("{container}/slo.bin"));
    assert_eq!(
        header(&headers, "x-static-large-object").as_deref(),
        Some("True")
    );
    assert_eq!(api.get(&format!("{container}/slo.bin")).len(), 2_097_162);
}

#[test]
fn rename_keeps_type_metadata_and_manifests() {
    let api = SwiftApi::tempauth();
    let container = unique_name("rn");
    let other = unique_name("rn2");
    api.create_container(&container);
    api.create_container(&other);
    api.put(
        &format!("{container}/blub"),
        b"abcd",
        &[
            ("Content-Type", "text/markdown"),
            ("X-Object-Meta-Color", "blue"),
        ],
    );
    api.put(
        &format!("{container}/notes.md"),
        b"a\n",
        &[("Content-Type", "text/markdown")],
    );
    for n in 1..=3 {
        api.put(
            &format!("{container}/dirA/{n}.txt"),
            format!("{n}").as_bytes(),
            &[],
        );
    }
    api.put(&format!("{container}/target"), b"old", &[]);
    put_large_objects(&api, &container);
    let mount = Mount::start(MountOptions::new("tempauth"));
    let p = |name: &str| {
        mount
            .join(&format!("{container}/{name}"))
            .to_str()
            .unwrap()
            .to_string()
    };

    run_ok("mv", &[&p("blub"), &p("bla")]);
    run_ok("mv", &[&p("bla"), &p("target")]);
    assert_eq!(api.head(&format!("{container}/blub")).0, 404);
    assert_eq!(api.head(&format!("{container}/bla")).0, 404);
    assert_eq!(api.get(&format!("{container}/target")), b"abcd");
    let (_, headers) = api.head(&format!("{container}/target"));
    assert_eq!(
        header(&headers, "content-type").as_deref(),
        Some("text/markdown")
    );
    assert_eq!(
        header(&headers, "x-object-meta-color").as_deref(),
        Some("blue")
    );

    run_ok("sed", &["-i", "s/a/A/", &p("notes.md")]);
    assert_eq!(api.get(&format!("{container}/notes.md")), b"A\n");
    let (_, headers) = api.head(&format!("{container}/notes.md"));
    assert_eq!(
        header(&headers, "content-type").as_deref(),
        Some("text/markdown")
    );

    run_ok("cp", &["/etc/hostname", &p("new.html")]);
    let (_, headers) = api.head(&format!("{container}/new.html"));
    assert_eq!(
        header(&headers, "content-type").as_deref(),
        Some("text/html")
    );

    run_ok("mv", &[&p("dirA"), &p("dirB")]);
    for n in 1..=3 {
        assert_eq!(
            api.get(&format!("{container}/dirB/{n}.txt")),
            format!("{n}").as_bytes()
        );
        assert_eq!(api.head(&format!("{container}/dirA/{n}.txt")).0, 404);
    }

    let cross = mount.join(&format!("{other}/target"));
    run_ok("mv", &[&p("target"), cross.to_str().unwrap()]);
    assert_eq!(api.get(&format!("{other}/target")), b"abcd");
    let (_, headers) = api.head(&format!("{other}/target"));
    assert_eq!(
        header(&headers, "x-object-meta-color").as_deref(),
        Some("blue")
    );
    assert_eq!(api.head(&format!("{container}/target")).0, 404);

    run_ok("mv", &[&p("dlo.bin"), &p("dlo2.bin")]);
    let (status, headers) = api.head(&format!("{container}/dlo2.bin"));
    assert_eq!(status, 200);
    assert!(
        header(&headers, "x-object-manifest").is_some(),
        "DLO flattened by rename"
    );
    assert_eq!(
        header(&headers, "content-length").as_deref(),
        Some("2097162")
    );
    assert_eq!(api.head(&format!("{container}/dlo.bin")).0, 404);
}

#[test]
fn mkdir_marker_persists_and_rmdir_deletes() {
    let api = SwiftApi::tempauth();
    let container = unique_name("mk");
    api.create_container(&container);
    api.put(
        &format!("{container}/empty/"),
        b"",
        &[("Content-Type", "application/directory")],
    );
    let mount = Mount::start(MountOptions::new("tempauth"));
    std::fs::create_dir(mount.join(&format!("{container}/new"))).unwrap();
    let (status, headers) = api.head(&format!("{container}/new/"));
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type").as_deref(),
        Some("application/directory")
    );
    drop(mount);

    let mount = Mount::start(MountOptions::new("tempauth"));
    assert!(std::fs::metadata(mount.join(&format!("{container}/new")))
        .unwrap()
        .is_dir());
    std::fs::remove_dir(mount.join(&format!("{container}/empty"))).unwrap();
    assert_eq!(api.head(&format!("{container}/empty/")).0, 404);
    let error = std::fs::create_dir(mount.join(&format!("{container}/new"))).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EEXIST));
}

#[test]
fn write_to_shadowed_file_is_eisdir() {
    let api = SwiftApi::tempauth();
    let container = unique_name("dup");
    api.create_container(&container);
    api.put(&format!("{container}/foo"), b"file\n", &[]);
    api.put(&format!("{container}/foo/bar"), b"bar\n", &[]);
    let mount = Mount::start(MountOptions::new("tempauth"));
    let error = std::fs::write(mount.join(&format!("{container}/foo")), b"x\n").unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EISDIR));
    assert_eq!(api.get(&format!("{container}/foo")), b"file\n");
}

#[test]
fn create_name_length_limits() {
    let api = SwiftApi::tempauth();
    let container = unique_name("odd");
    api.create_container(&container);
    let mount = Mount::start(MountOptions::new("tempauth"));
    let dir = mount.join(&container);

    let too_long = dir.join("z".repeat(256));
    let error = std::fs::File::create(&too_long).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::ENAMETOOLONG));
    std::fs::File::create(dir.join("z".repeat(255))).unwrap();

    let mut deep = dir.clone();
    for level in 0..4 {
        deep = deep.join(format!("{level}").repeat(250));
        std::fs::create_dir(&deep).unwrap();
    }
    let error = std::fs::File::create(deep.join("f".repeat(100))).unwrap_err();
    assert_eq!(
        error.raw_os_error(),
        Some(libc::ENAMETOOLONG),
        "object name over 1024 bytes"
    );
}

#[test]
fn special_names_move_and_create() {
    let api = SwiftApi::tempauth();
    let container = unique_name("sp");
    api.create_container(&container);
    api.put(&format!("{container}/hash#.txt"), b"hash#.txt", &[]);
    let mount = Mount::start(MountOptions::new("tempauth"));
    let dir = mount.join(&container);

    std::fs::rename(dir.join("hash#.txt"), dir.join("renamed#2?.txt")).unwrap();
    assert_eq!(api.head(&format!("{container}/renamed#2?.txt")).0, 200);
    assert_eq!(api.head(&format!("{container}/hash#.txt")).0, 404);

    std::fs::write(dir.join("new 100%+#?.txt"), b"hi\n").unwrap();
    assert_eq!(api.get(&format!("{container}/new 100%+#?.txt")), b"hi\n");

    let started = Instant::now();
    let mut invalid = dir.as_os_str().as_bytes().to_vec();
    invalid.extend_from_slice(b"/bad\xe2%80%99.txt");
    let invalid = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&invalid));
    let error = std::fs::write(&invalid, b"x").unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        matches!(
            error.raw_os_error(),
            Some(libc::EILSEQ) | Some(libc::EINVAL)
        ),
        "error {error:?}"
    );
    let output = run_ok("ls", &[dir.to_str().unwrap()]);
    let names = stdout_lines(&output);
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn stat_during_slow_write() {
    let api = SwiftApi::tempauth();
    let container = unique_name("slow");
    api.create_container(&container);
    let mount = Mount::start(
        MountOptions::new("tempauth")
            .arg("--attr-ttl")
            .arg("1")
            .arg("--dir-ttl")
            .arg("1"),
    );
    let path = mount.join(&format!("{container}/slow.bin"));
    let chunk: Vec<u8> = (0..262_144u32).map(|i| (i % 253) as u8).collect();

    let writer_path = path.clone();
    let writer_chunk = chunk.clone();
    let writer = std::thread::spawn(move || {
        let mut file = std::fs::File::create(&writer_path).unwrap();
        for _ in 0..10 {
            file.write_all(&writer_chunk).unwrap();
            std::thread::sleep(Duration::from_millis(400));
        }
        file.sync_all()
    });

    let mut last_size = 0;
    let mut checks = 0;
    while !writer.is_finished() {
        std::thread::sleep(Duration::from_millis(250));
        let Ok(metadata) = std::fs::metadata(&path) else {
            panic!("stat failed during the write");
        };
        assert!(
            metadata.len() >= last_size,
            "size went from {last_size} to {}",
            metadata.len()
        );
        last_size = metadata.len();
        let names = stdout_lines(&run_ok("ls", &[mount.join(&container).to_str().unwrap()]));
        assert!(
            names.contains(&"slow.bin".to_string()),
            "ls lost the file: {names:?}"
        );
        checks += 1;
    }
    writer.join().unwrap().unwrap();
    assert!(checks >= 5, "only {checks} checks ran");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 2_621_440);
    assert_eq!(api.get(&format!("{container}/slow.bin")).len(), 2_621_440);
}

#[test]
fn failed_upload_reported_and_kept() {
    let api = SwiftApi::tempauth();
    let container = unique_name("quota");
    api.create_container(&container);
    let response = api
        .request(reqwest::Method::POST, &container)
        .header("X-Container-Meta-Quota-Bytes", "10")
        .send()
        .unwrap();
    assert!(response.status().is_success());
    let staging = tempfile::tempdir().unwrap();
    let mount = Mount::start(
        MountOptions::new("tempauth")
            .arg("--staging-dir")
            .arg(staging.path().to_str().unwrap()),
    );
    let path = mount.join(&format!("{container}/big.txt"));
    let payload = b"this is more than ten bytes of data";

    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(payload).unwrap();
    let error = file.sync_all().unwrap_err();
    assert_eq!(
        error.raw_os_error(),
        Some(libc::EDQUOT),
        "fsync error {error:?}"
    );
    drop(file);

    // cp checks the result of close(), which carries the upload's failure
    // (a shell redirection ignores it).
    let source = staging.path().join("source.txt");
    std::fs::write(&source, b"also too large for the quota").unwrap();
    // Another name: cp's O_TRUNC on big.txt would legitimately replace the
    // data staged for it if the kernel has not released the first handle yet.
    let second = mount.join(&format!("{container}/big2.txt"));
    let output = Command::new("cp")
        .arg(&source)
        .arg(&second)
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "close did not report the failed upload"
    );
    std::fs::remove_file(&source).unwrap();
    assert_eq!(api.head(&format!("{container}/big.txt")).0, 404);
    assert_eq!(api.head(&format!("{container}/big2.txt")).0, 404);

    // The data written stays in the staging directory.
    std::thread::sleep(Duration::from_millis(500));
    let mut kept = Vec::new();
    for entry in walk(staging.path()) {
        kept.push(std::fs::read(entry).unwrap());
    }
    assert!(
        kept.iter().any(|data| data.as_slice() == payload),
        "data of big.txt not kept: {} files",
        kept.len()
    );
    assert!(
        kept.iter()
            .any(|data| data.as_slice() == b"also too large for the quota"),
        "data of big2.txt not kept: {} files",
        kept.len()
    );
    let log = mount.stop();
    assert!(log.contains("the data is kept in"), "log:\n{log}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn mtime_of_new_file_is_recent() {
    let api = SwiftApi::tempauth();
    let container = unique_name("mt");
    api.create_container(&container);
    let mount = Mount::start(MountOptions::new("tempauth"));
    let path = mount.join(&format!("{container}/f.txt"));
    std::fs::write(&path, b"data").unwrap();
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let age = std::time::SystemTime::now()
        .duration_since(mtime)
        .unwrap_or_default();
    assert!(
        age < Duration::from_secs(60),
        "mtime {:?}",
        mtime.duration_since(UNIX_EPOCH)
    );
}

#[test]
fn meta_mtime_option_survives_remount() {
    let api = SwiftApi::tempauth();
    let container = unique_name("mm");
    api.create_container(&container);
    api.put(&format!("{container}/f.txt"), b"data", &[]);
    let mount = Mount::start(MountOptions::new("tempauth"));
    let path = mount.join(&format!("{container}/f.txt"));
    run_ok(
        "touch",
        &[
            "-m",
            "-d",
            "2020-01-02 03:04:05 UTC",
            path.to_str().unwrap(),
        ],
    );
    drop(mount);

    let plain = Mount::start(MountOptions::new("tempauth"));
    let listed = std::fs::metadata(plain.join(&format!("{container}/f.txt"))).unwrap();
    let listed_mtime = listed
        .modified()
        .unwrap()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_ne!(
        listed_mtime, 1_577_934_245,
        "listing mtime is the write time"
    );
    drop(plain);

    let mount = Mount::start(MountOptions::new("tempauth").arg("--use-meta-mtime"));
    let path = mount.join(&format!("{container}/f.txt"));
    let output = run_ok("stat", &["-c", "%Y %s", path.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "1577934245 4"
    );
    let output = run_ok(
        "ls",
        &[
            "-l",
            "--time-style=+%s",
            mount.join(&container).to_str().unwrap(),
        ],
    );
    let line = stdout_lines(&output)
        .into_iter()
        .find(|line| line.ends_with("f.txt"))
        .unwrap();
    assert!(line.contains(" 1577934245 "), "ls -l line: {line}");
}

#[test]
fn large_file_uploaded_in_segments() {
    let api = SwiftApi::tempauth();
    let container = unique_name("seg");
    api.create_container(&container);
    let mount = Mount::start(
        MountOptions::new("tempauth")
            .arg("--segment-size")
            .arg("1048576"),
    );
    let path = mount.join(&format!("{container}/big.bin"));
    let data: Vec<u8> = (0..3_670_016u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&path, &data).unwrap();

    let (status, headers) = api.head(&format!("{container}/big.bin"));
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-static-large-object").as_deref(),
        Some("True")
    );
    assert_eq!(
        header(&headers, "content-length").as_deref(),
        Some("3670016")
    );
    assert_eq!(api.get(&format!("{container}/big.bin")), data);
    // Read back in the same mount: reads are pinned to the ETag computed
    // at upload, which must equal Swift's.
    assert_eq!(std::fs::read(&path).unwrap(), data);
    // Container listings are updated asynchronously when the servers are
    // busy, so wait for the segments to be listed.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut segments = api.list(&format!("{container}_segments"));
    while segments.len() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        segments = api.list(&format!("{container}_segments"));
    }
    assert_eq!(segments.len(), 4, "segments: {segments:?}");
    drop(mount);

    let mount = Mount::start(MountOptions::new("tempauth"));
    assert_eq!(
        std::fs::read(mount.join(&format!("{container}/big.bin"))).unwrap(),
        data
    );
}

/// Resident set size (kB) and open descriptors of a process.
fn process_usage(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    (rss, fds)
}

#[test]
fn stress_writers_own_files() {
    let seconds: u64 = std::env::var("SWIFTMOUNT_STRESS_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(30);
    let api = SwiftApi::tempauth();
    let container = unique_name("wstress");
    api.create_container(&container);
    let mount = Mount::start(MountOptions::new("tempauth"));
    let dir = mount.join(&container);
    let (rss_before, fds_before) = process_usage(mount.pid());

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..8u32)
        .map(|worker| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let mut errors = Vec::new();
                let mut step = 0u32;
                let mut last = None;
                while Instant::now() < deadline {
                    step += 1;
                    let size = ((worker * 7919 + step * 104_729) % 300_000) as usize;
                    let content: Vec<u8> = (0..size)
                        .map(|i| (i as u32 ^ step ^ worker) as u8)
                        .collect();
                    let name = dir.join(format!("w{worker}-a"));
                    if let Err(err) = std::fs::write(&name, &content) {
                        errors.push(format!("write {name:?}: {err}"));
                        continue;
                    }
                    match std::fs::read(&name) {
                        Ok(read) if read == content => {}
                        Ok(read) => errors.push(format!(
                            "{name:?}: read {} bytes, wrote {}",
                            read.len(),
                            size
                        )),
                        Err(err) => errors.push(format!("read {name:?}: {err}")),
                    }
                    let renamed = dir.join(format!("w{worker}-b"));
                    if step % 3 == 0 {
                        if let Err(err) = std::fs::rename(&name, &renamed) {
                            errors.push(format!("rename {name:?}: {err}"));
                        }
                        last = Some((renamed, content));
                    } else if step % 3 == 1 {
                        if let Err(err) = std::fs::remove_file(&name) {
                            errors.push(format!("unlink {name:?}: {err}"));
                        }
                    } else {
                        last = Some((name, content));
                    }
                }
                (step, errors, last)
            })
        })
        .collect();

    let mut steps = 0;
    let mut all_errors = Vec::new();
    let mut finals = Vec::new();
    for worker in workers {
        let (worker_steps, errors, last) = worker.join().unwrap();
        steps += worker_steps;
        all_errors.extend(errors);
        finals.extend(last);
    }
    let (rss_after, fds_after) = process_usage(mount.pid());
    eprintln!(
        "write stress: {steps} steps in {seconds} s; RSS {rss_before} -> {rss_after} kB; \
         descriptors {fds_before} -> {fds_after}; requests {:?}",
        mount.stats()
    );
    assert_eq!(all_errors, Vec::<String>::new(), "errors under load");
    assert!(steps > 16, "only {steps} steps done");
    assert!(
        fds_after <= fds_before + 32,
        "descriptors grew from {fds_before} to {fds_after}"
    );

    // The last version of each file each worker kept is what Swift has.
    for (path, content) in finals {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if std::fs::metadata(&path).is_ok() {
            assert_eq!(
                api.get(&format!("{container}/{name}")),
                content,
                "{name} in Swift"
            );
        }
    }
    assert_eq!(mount.stats()["errors"], 0, "failed requests");
}
