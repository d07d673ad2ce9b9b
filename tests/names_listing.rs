//! How Swift names and listings become files: pagination past one listing
//! page, directory markers, a file and a directory with the same name,
//! names POSIX cannot show, special characters, large objects, `df`
//! figures, and the number of requests `ls -l` costs. Each test makes its
//! own containers through the API and deletes them at the end, except the
//! 32,100-object container `page`, which `scripts/seed` fills once. Needs
//! `scripts/swift-up` and `scripts/seed`.

mod common;

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::fixtures::{self, Scratch};
use common::{run_ok, stdout_lines, Mount, MountOptions, SwiftApi};

// ----- helpers -----

/// Returns `path` as a command-line argument; test paths are UTF-8.
fn path_arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs `ls [flags] path`, which must exit 0, and returns its lines.
fn ls(flags: &[&str], path: &Path) -> Vec<String> {
    let mut args = flags.to_vec();
    args.push(path_arg(path));
    stdout_lines(&run_ok("ls", &args))
}

/// Runs `stat -c FORMAT path`, which must exit 0, and returns its output
/// without the final newline.
fn stat(format: &str, path: &Path) -> String {
    let output = run_ok("stat", &["-c", format, path_arg(path)]);
    String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_string()
}

fn cat(path: &Path) -> String {
    String::from_utf8_lossy(&run_ok("cat", &[path_arg(path)]).stdout).into_owned()
}

/// Returns the names that occur more than once, as `sort | uniq -d` prints
/// them.
fn duplicates(names: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut repeated: Vec<String> = names
        .iter()
        .filter(|name| !seen.insert(name.as_str()))
        .cloned()
        .collect();
    repeated.sort();
    repeated.dedup();
    repeated
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

/// Request counters sent between two readings, by kind, without the byte
/// counts.
fn requests_between(before: &HashMap<String, u64>, after: &HashMap<String, u64>) -> u64 {
    [
        "auth", "head", "get", "listing", "put", "post", "copy", "delete",
    ]
    .iter()
    .map(|kind| after[*kind] - before[*kind])
    .sum()
}

/// Mounts the tempauth account with `args`.
fn mount(args: &[&str]) -> Mount {
    let mut options = MountOptions::new("tempauth");
    for arg in args {
        options = options.arg(arg);
    }
    Mount::start(options)
}

// ----- listings past one page -----

/// `many/dNNNNN/f` and `flat/fNNNNN` for `0..count`, each containing `x`.
fn page_objects(count: usize) -> Vec<(String, Vec<u8>)> {
    let mut objects = Vec::with_capacity(2 * count);
    for index in 0..count {
        objects.push((format!("many/d{index:05}/f"), b"x".to_vec()));
        objects.push((format!("flat/f{index:05}"), b"x".to_vec()));
    }
    objects
}

/// Checks a container made by `page_objects(count)` through `mount`.
fn check_pages(mount: &Mount, container: &str, count: usize) {
    let last_dir = format!("d{:05}", count - 1);
    let last_file = format!("f{:05}", count - 1);
    let many = mount.join(&format!("{container}/many"));
    let flat = mount.join(&format!("{container}/flat"));

    let dirs = ls(&[], &many);
    assert_eq!(dirs.len(), count, "entries in many/");
    assert_eq!(duplicates(&dirs), Vec::<String>::new(), "repeated in many/");
    assert_eq!(dirs.last(), Some(&last_dir), "last entry of many/");
    assert_eq!(stat("%F", &many.join(&last_dir)), "directory");
    assert_eq!(cat(&many.join(&last_dir).join("f")), "x");

    let files = ls(&[], &flat);
    assert_eq!(files.len(), count, "entries in flat/");
    assert_eq!(
        duplicates(&files),
        Vec::<String>::new(),
        "repeated in flat/"
    );
    assert_eq!(files.last(), Some(&last_file), "last entry of flat/");
    assert_eq!(cat(&flat.join(&last_file)), "x");
}

/// Looks up names on the last page in a fresh mount, before any listing of
/// their directory, which must not end in `ENOENT`.
fn check_late_lookup(mount: &Mount, container: &str, count: usize) {
    let last_dir = mount.join(&format!("{container}/many/d{:05}", count - 1));
    let last_file = mount.join(&format!("{container}/flat/f{:05}", count - 1));
    assert_eq!(stat("%F", &last_dir), "directory");
    assert_eq!(stat("%F %s", &last_file), "regular file 1");
    assert_eq!(cat(&last_dir.join("f")), "x");
}

#[test]
fn pagination_page_ends_on_subdir() {
    // With 100 rows per page, the first page of many/ ends on the row
    // {"subdir": "many/d00099/"}, so the next marker must be that subdir.
    let api = SwiftApi::tempauth();
    let mut scratch = Scratch::new(&api);
    let container = scratch.container("page");
    fixtures::upload_objects(&api, &container, &page_objects(150));

    let first_page: Vec<serde_json::Value> = api
        .request(reqwest::Method::GET, &container)
        .query(&[
            ("format", "json"),
            ("prefix", "many/"),
            ("delimiter", "/"),
            ("limit", "100"),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        first_page.last().unwrap()["subdir"].as_str(),
        Some("many/d00099/"),
        "fixture: last row of the first page"
    );

    let cold = mount(&["--listing-limit", "100"]);
    check_late_lookup(&cold, &container, 150);
    drop(cold);

    let mount = mount(&["--listing-limit", "100"]);
    check_pages(&mount, &container, 150);
}

/// Objects in the seeded container `page`: `many/` and `flat/` as made by
/// `page_objects(10_050)`, and 12,000 objects in `wide/`.
const PAGE_SEEDED: u64 = 2 * 10_050 + 12_000;

/// Checks that `scripts/seed` has filled the container `page`, whose
/// 32,100 objects take minutes to upload, too long to make in each run.
fn require_seeded_page(api: &SwiftApi) {
    let (status, headers) = api.head("page");
    let count = headers
        .get("x-container-object-count")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    assert!(
        status == 204 && count == Some(PAGE_SEEDED),
        "container page has {count:?} objects (HEAD {status}), expected {PAGE_SEEDED}: \
         run scripts/seed --only page"
    );
}

#[test]
fn pagination_real_scale() {
    // 10,050 pseudo-directories and 10,050 files: each directory spans two
    // pages at Swift's default limit of 10,000 rows.
    let api = SwiftApi::tempauth();
    require_seeded_page(&api);

    let cold = mount(&[]);
    check_late_lookup(&cold, "page", 10_050);
    drop(cold);

    let mount = mount(&[]);
    check_pages(&mount, "page", 10_050);
}

// ----- directory markers -----

/// Creates the container of the marker case: markers with and without a
/// trailing `/`, with and without objects below, next to an empty real file.
fn marker_container(api: &SwiftApi, scratch: &mut Scratch) -> String {
    let container = scratch.container("mk");
    let marker = [("Content-Type", "application/directory")];
    api.put(&format!("{container}/pkg"), b"", &marker);
    api.put(&format!("{container}/pkg/setup.py"), b"print(1)", &[]);
    api.put(&format!("{container}/slash/"), b"", &marker);
    api.put(&format!("{container}/slash/a.txt"), b"a", &[]);
    api.put(&format!("{container}/empty/"), b"", &marker);
    api.put(&format!("{container}/emptynoslash"), b"", &marker);
    api.put(
        &format!("{container}/file0"),
        b"",
        &[("Content-Type", "text/plain")],
    );
    container
}

#[test]
fn markers_listed_once() {
    let api = SwiftApi::tempauth();
    let mut scratch = Scratch::new(&api);
    let container = marker_container(&api, &mut scratch);
    let mount = mount(&[]);
    let root = mount.join(&container);

    let long = ls(&["-la"], &root);
    assert!(
        long.iter().all(|line| !line.ends_with(' ')),
        "blank name in ls -la: {long:?}"
    );
    let names = ls(&[], &root);
    assert_eq!(duplicates(&names), Vec::<String>::new(), "repeated names");
    assert_eq!(
        sorted(names),
        strings(&["empty", "emptynoslash", "file0", "pkg", "slash"])
    );
    for dir in ["pkg", "slash", "empty", "emptynoslash"] {
        assert_eq!(stat("%F", &root.join(dir)), "directory", "type of {dir}");
    }
    assert_eq!(stat("%F %s", &root.join("file0")), "regular empty file 0");
    assert_eq!(ls(&["-A"], &root.join("slash")), strings(&["a.txt"]));
    assert_eq!(ls(&["-A"], &root.join("empty")), Vec::<String>::new());
    assert_eq!(cat(&root.join("pkg/setup.py")), "print(1)");
}

#[test]
fn mkdir_creates_marker() {
    let api = SwiftApi::tempauth();
    let mut scratch = Scratch::new(&api);
    let container = marker_container(&api, &mut scratch);
    let mount = mount(&[]);
    run_ok(
        "mkdir",
        &[path_arg(&mount.join(&format!("{container}/new")))],
    );
    drop(mount);

    let (status, headers) = api.head(&format!("{container}/new/"));
    assert_eq!(status, 200, "HEAD of the new/ marker");
    assert_eq!(
        headers["content-type"].to_str().unwrap(),
        "application/directory"
    );
    let remounted = self::mount(&[]);
    let names = ls(&[], &remounted.join(&container));
    assert!(
        names.contains(&"new".to_string()),
        "new after remount: {names:?}"
    );
}

#[test]
fn rmdir_deletes_marker() {
    let api = SwiftApi::tempauth();
    let mut scratch = Scratch::new(&api);
    let container = marker_container(&api, &mut scratch);
    let mount = mount(&[]);
    run_ok(
        "rmdir",
        &[path_arg(&mount.join(&format!("{container}/empty")))],
    );
    let (status, _) = api.head(&format!("{container}/empty/"));
    assert_eq!(status, 404, "HEAD of the empty/ marker after rmdir");
}

// ----- a file and a directory with the same name -----

fn collision_container(api: &SwiftApi, scratch: &mut Scratch) -> String {
    let container = scratch.container("dup");
    api.put(&format!("{container}/foo"), b"file\n", &[]);
    api.put(&format!("{container}/foo/bar"), b"bar\n", &[]);
    container
}

#[test]
fn same_name_directory_wins() {
    let api = SwiftApi::tempauth();
    let mut scratch = Scratch::new(&api);
    let container = collision_container(&api, &mut scratch);
    let mount = mount(&[]);
    let root = mount.join(&container);

    let long = ls(&["-l"], &root);
    let foo_lines: Vec<&String> = long.iter().filter(|line| line.ends_with(" foo")).collect();
    assert_eq!(foo_lines.len(), 1, "foo lines in ls -l: {long:?}");
    assert!(
        foo_lines[0].starts_with('d'),
        "foo is not a directory in ls -l: {}",
        foo_lines[0]
    );
    assert_eq!(duplicates(&ls(&[], &root)), Vec::<String>::new());
    assert_eq!(stat("%F", &root.join("foo")), "directory");
    assert_eq!(cat(&root.join("foo/bar")), "bar\n");
    assert_eq!(ls(&[], &root.join("foo")), strings(&["bar"]));

    let log = mount.stop();
    let reports = log
        .lines()
        .filter(|line| line.contains("object \"foo\" is not shown"))
        .count();
    assert_eq!(reports, 1, "reports of the hidden object; log:\n{log}");
    // An EIO would be logged at warn by swiftmount's own modules (fuser
    // warns about its own unmount, which is not a failure of this case).
    let failures: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("WARN  swiftmount") && !line.contains("is not shown"))
        .collect();
    assert_eq!(failures, Vec::<&str>::new(), "warnings in the log");
}

#[test]
fn write_to_shadowed_name_is_eisdir() {
    let api = SwiftApi::tempauth();
    let mut scratch = Scratch::new(&api);
    let container = collision_container(&api, &mut scratch);
    let mount = mount(&[]);
    let error = std::fs::write(mount.join(&format!("{container}/foo")), b"x\n").unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EISDIR));
    assert_eq!(api.get(&format!("{container}/foo")), b"file\n");
}

// ----- names POSIX cannot show -----

fn long_component() -> String {
    "n".repeat(300)
}

fn unrepresentable_container(api: &SwiftApi, scratch: &mut Scratch) -> String {
    let container = scratch.container("odd");
    let objects = [
        ("a//b/x.txt".to_string(), "double"),
        ("a/b/y.txt".to_string(), "single"),
        ("/lead.txt".to_string(), "lead"),
        ("ok.txt".to_string(), "ok"),
        (format!("long/{}", long_component()), "long"),
        ("long/short.txt".to_string(), "short"),
    ];
    for (name, content) in objects {
        api.put(&format!("{container}/{name}"), content.as_bytes(), &[]);
    }
    container
}

#[test]
fn unrepresentable_names_skipped() {
    let api = SwiftApi::tempauth();
    let mut scratch = Scratch::new(&api);
    let container = unrepresentable_container(&api, &mut scratch);
    let mount = mount(&[]);
    let root = mount.join(&container);

    let top = ls(&["-A"], &root);
    let a = ls(&["-A"], &root.join("a"));
    let b = ls(&["-A"], &root.join("a/b"));
    let long = ls(&["-A"], &root.join("long"));
    for (dir, names) in [("/", &top), ("a", &a), ("a/b", &b), ("long", &long)] {
        assert!(
            !names.iter().any(String::is_empty),
            "empty name in {dir}: {names:?}"
        );
    }
    assert_eq!(sorted(top), strings(&["a", "long", "ok.txt"]));
    assert_eq!(a, strings(&["b"]));
    assert_eq!(b, strings(&["y.txt"]));
    assert_eq!(long, strings(&["short.txt"]));
    assert_eq!(cat(&root.join("a/b/y.txt")), "single");
    assert_eq!(cat(&root.join("ok.txt")), "ok");
    assert_eq!(cat(&root.join("long/short.txt")), "short");

    let log = mount.stop();
    let warning = format!("object \"long/{}\" is not shown", long_component());
    assert_eq!(
        log.lines().filter(|line| line.contains(&warning)).count(),
        1,
        "warnings for the 300-byte name; log:\n{log}"
    );
}

#[test]
fn lookup_past_name_max_rejected() {
    let api = SwiftApi::tempauth();
    let mut scratch = Scratch::new(&api);
    let container = unrepresentable_container(&api, &mut scratch);
    let mount = mount(&[]);
    let too_long = mount.join(&format!("{container}/long/{}", "z".repeat(256)));
    let error = std::fs::metadata(&too_long).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::ENAMETOOLONG));
}

#[test]
fn create_at_name_max() {
    let api = SwiftApi::tempauth();
    let mut scratch = Scratch::new(&api);
    let container = unrepresentable_container(&api, &mut scratch);
    let mount = mount(&[]);
    let dir = mount.join(&format!("{container}/long"));

    let too_long = std::fs::File::create(dir.join("z".repeat(256))).unwrap_err();
    assert_eq!(too_long.raw_os_error(), Some(libc::ENAMETOOLONG));
    std::fs::File::create(dir.join("z".repeat(255))).unwrap();

    // Swift rejects object names over 1,024 bytes with 400. Four 250-byte
    // directories fit (their marker is 1,004 bytes with the slashes); a
    // fifth directory, or a 100-byte file name below the fourth, does not.
    let mut deep = mount.join(&container);
    for level in 0..4 {
        deep = deep.join(format!("{level}").repeat(250));
        std::fs::create_dir(&deep).unwrap();
    }
    let fifth = std::fs::create_dir(deep.join("4".repeat(250))).unwrap_err();
    assert_eq!(
        fifth.raw_os_error(),
        Some(libc::ENAMETOOLONG),
        "fifth mkdir"
    );
    let file = std::fs::write(deep.join("f".repeat(100)), b"deep").unwrap_err();
    assert_eq!(file.raw_os_error(), Some(libc::ENAMETOOLONG), "file below");
}

// ----- special characters -----

const SPECIAL_NAMES: [&str; 8] = [
    "a b.txt",
    "plus+sign.txt",
    "pct%25lit.txt",
    "pct%.txt",
    "q?.txt",
    "hash#.txt",
    "amp&eq=semi;.txt",
    "ünï©ødé.txt",
];

/// Creates a container whose objects contain their own names.
fn special_container(api: &SwiftApi, scratch: &mut Scratch) -> String {
    let container = scratch.container("sp");
    for name in SPECIAL_NAMES {
        api.put(&format!("{container}/{name}"), name.as_bytes(), &[]);
    }
    container
}

#[test]
fn special_characters_read_back() {
    let api = SwiftApi::tempauth();
    let mut scratch = Scratch::new(&api);
    let container = special_container(&api, &mut scratch);
    let mount = mount(&[]);
    let root = mount.join(&container);

    for name in SPECIAL_NAMES {
        assert_eq!(cat(&root.join(name)), name, "content of {name:?}");
    }
    assert_eq!(sorted(ls(&[], &root)), sorted(strings(&SPECIAL_NAMES)));
}

#[test]
fn special_characters_rename() {
    let api = SwiftApi::tempauth();
    let mut scratch = Scratch::new(&api);
    let container = special_container(&api, &mut scratch);
    let mount = mount(&[]);
    let root = mount.join(&container);

    run_ok(
        "mv",
        &[
            path_arg(&root.join("hash#.txt")),
            path_arg(&root.join("renamed#2?.txt")),
        ],
    );
    assert_eq!(api.head(&format!("{container}/renamed#2?.txt")).0, 200);
    assert_eq!(api.head(&format!("{container}/hash#.txt")).0, 404);
}

#[test]
fn special_characters_create() {
    let api = SwiftApi::tempauth();
    let mut scratch = Scratch::new(&api);
    let container = special_container(&api, &mut scratch);
    let mount = mount(&[]);
    let root = mount.join(&container);

    std::fs::write(root.join("new 100%+#?.txt"), b"hi").unwrap();
    assert_eq!(api.get(&format!("{container}/new 100%+#?.txt")), b"hi");

    // `bad`, the byte E2 (which starts a three-byte UTF-8 sequence) and
    // `%80%99.txt`: not UTF-8, so Swift would reject the name. The create
    // runs on its own thread so that a hang fails the test after 20 s.
    let bad_name = std::ffi::OsStr::from_bytes(b"bad\xe2%80%99.txt");
    let bad_path = root.join(bad_name);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(std::fs::write(&bad_path, b"x"));
    });
    let result = receiver
        .recv_timeout(Duration::from_secs(20))
        .expect("create of a non-UTF-8 name still running after 20 s");
    let errno = result.unwrap_err().raw_os_error();
    assert!(
        errno == Some(libc::EINVAL) || errno == Some(libc::EILSEQ),
        "create of a non-UTF-8 name: errno {errno:?}"
    );
    let names: Vec<String> = api
        .list(&container)
        .iter()
        .map(|row| row["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !names.iter().any(|name| name.starts_with("bad")),
        "left behind: {names:?}"
    );
    let mut expected = strings(&SPECIAL_NAMES);
    expected.push("new 100%+#?.txt".to_string());
    assert_eq!(
        sorted(ls(&[], &root)),
        sorted(expected),
        "ls after the creates"
    );
}

// ----- large objects -----

const SEGMENT_SIZE: usize = 1_048_576;

fn segments() -> [Vec<u8>; 3] {
    [
        vec![b'a'; SEGMENT_SIZE],
        vec![b'b'; SEGMENT_SIZE],
        b"tail-bytes".to_vec(),
    ]
}

#[test]
fn large_objects_full_size() {
    let api = SwiftApi::tempauth();
    let mut scratch = Scratch::new(&api);
    let container = scratch.container("lo");
    let segment_container = format!("{container}_segments");
    scratch.create(&segment_container);
    let parts = segments();
    let mut manifest = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        let name = format!("{segment_container}/big/{:08}", index + 1);
        api.put(&name, part, &[]);
        manifest.push(serde_json::json!({ "path": format!("/{name}") }));
    }
    let prefix = format!("{segment_container}/big/");
    api.put(
        &format!("{container}/dlo.bin"),
        b"",
        &[("X-Object-Manifest", prefix.as_str())],
    );
    let response = api
        .request(reqwest::Method::PUT, &format!("{container}/slo.bin"))
        .query(&[("multipart-manifest", "put")])
        .body(serde_json::to_vec(&manifest).unwrap())
        .send()
        .unwrap();
    assert!(
        response.status().is_success(),
        "SLO manifest PUT: {}",
        response.status()
    );
    let total: usize = parts.iter().map(Vec::len).sum();
    assert_eq!(total, 2_097_162, "fixture size");

    let mount = mount(&[]);
    let root = mount.join(&container);
    let long = ls(&["-l"], &root);
    for name in ["dlo.bin", "slo.bin"] {
        let line = long
            .iter()
            .find(|line| line.ends_with(&format!(" {name}")))
            .unwrap_or_else(|| panic!("{name} missing in ls -l: {long:?}"));
        let size = line.split_whitespace().nth(4).unwrap();
        assert_eq!(size, "2097162", "size of {name} in the first ls -l");
        assert_eq!(stat("%s", &root.join(name)), "2097162", "stat of {name}");
    }

    let scratch_dir = tempfile::tempdir().unwrap();
    let joined = scratch_dir.path().join("joined");
    std::fs::write(&joined, parts.concat()).unwrap();
    let md5 = |path: &Path| {
        let output = run_ok("md5sum", &[path_arg(path)]);
        String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let expected = md5(&joined);
    for name in ["dlo.bin", "slo.bin"] {
        let path = root.join(name);
        assert_eq!(md5(&path), expected, "md5sum of {name}");
        let input = format!("if={}", path_arg(&path));
        let boundary = run_ok("dd", &[&input, "bs=1", "skip=1048570", "count=12"]);
        assert_eq!(
            String::from_utf8_lossy(&boundary.stdout),
            "aaaaaabbbbbb",
            "bytes across the first segment boundary of {name}"
        );
        let tail = run_ok("tail", &["-c", "10", path_arg(&path)]);
        assert_eq!(
            String::from_utf8_lossy(&tail.stdout),
            "tail-bytes",
            "tail of {name}"
        );
    }
}

// ----- df and du -----

const QUOTA_BYTES: u64 = 104_857_600;
const BLOCK: u64 = 4096;

/// The tempauth account of the `df` test. Other tests revoke its tokens
/// while they run, so every step that follows a wait logs in again.
const QUOTA_ACCOUNT: &str = "tempauth-test2";

/// Sets the quota of the `QUOTA_ACCOUNT` account as reseller admin.
/// Returns the POST's status; `None` removes the quota.
fn set_quota(account_url: &str, bytes: Option<&str>) -> u16 {
    let reseller = fixtures::login("tempauth-reseller");
    let header = match bytes {
        Some(bytes) => ("X-Account-Meta-Quota-Bytes", bytes),
        None => ("X-Remove-Account-Meta-Quota-Bytes", "x"),
    };
    fixtures::post_account(&reseller, account_url, &[header])
}

/// Removes the account quota of `account_url` when dropped.
struct QuotaGuard {
    account_url: String,
}

impl Drop for QuotaGuard {
    fn drop(&mut self) {
        let status = set_quota(&self.account_url, None);
        if status != 204 {
            eprintln!(
                "removing the quota of {} returned {status}",
                self.account_url
            );
        }
    }
}

/// Waits until the account listing shows `expected` bytes for each
/// container. The container updater reports new objects to the account on
/// its next sweep: a few seconds on an idle cluster, minutes while other
/// runs upload tens of thousands of objects.
fn wait_for_account_usage(expected: &[(&str, u64)]) {
    let deadline = Instant::now() + Duration::from_secs(900);
    let mut api = fixtures::login(QUOTA_ACCOUNT);
    loop {
        let rows = match fixtures::account_listing(&api) {
            Ok(rows) => rows,
            Err(401) => {
                api = fixtures::login(QUOTA_ACCOUNT);
                continue;
            }
            Err(status) => panic!("account listing of {}: {status}", api.storage_url),
        };
        let settled = expected.iter().all(|(name, bytes)| {
            rows.iter()
                .any(|row| row["name"] == *name && row["bytes"].as_u64() == Some(*bytes))
        });
        if settled {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "account usage not updated after 900 s: {rows:?}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn header_u64(headers: &reqwest::header::HeaderMap, name: &str) -> u64 {
    headers[name].to_str().unwrap().parse().unwrap()
}

/// Fields 2 to 4 of the second line of `df` output: total, used, available.
fn df_numbers(args: &[&str]) -> [u64; 3] {
    let output = run_ok("df", args);
    let lines = stdout_lines(&output);
    let fields: Vec<u64> = lines[1]
        .split_whitespace()
        .skip(1)
        .take(3)
        .map(|field| field.parse().unwrap())
        .collect();
    [fields[0], fields[1], fields[2]]
}

#[test]
fn statfs_quota_and_usage() {
    let api = fixtures::login(QUOTA_ACCOUNT);
    assert_eq!(
        set_quota(&api.storage_url, Some("104857600")),
        204,
        "setting the quota"
    );
    let quota = QuotaGuard {
        account_url: api.storage_url.clone(),
    };
    let mut scratch = Scratch::new(&api).relogin_before_cleanup(QUOTA_ACCOUNT);
    let container = scratch.container("q");
    let segment_container = format!("{container}_segments");
    scratch.create(&segment_container);
    api.put(&format!("{container}/a.bin"), &vec![b'q'; 10 << 20], &[]);
    api.put(
        &format!("{segment_container}/part"),
        &vec![b's'; 5 << 20],
        &[],
    );
    wait_for_account_usage(&[(&container, 10 << 20), (&segment_container, 5 << 20)]);
    let headers = fixtures::account_headers(&fixtures::login(QUOTA_ACCOUNT));
    let used = header_u64(&headers, "x-account-bytes-used");
    let objects = header_u64(&headers, "x-account-object-count");
    assert!(used >= 15 << 20, "fixture: account bytes used {used}");

    let mount = Mount::start(MountOptions::new(QUOTA_ACCOUNT));
    let [total, df_used, available] = df_numbers(&["-B1", path_arg(mount.path())]);
    assert_eq!(total, QUOTA_BYTES, "df total");
    assert!(
        df_used.abs_diff(used) < BLOCK,
        "df used {df_used}, account {used}"
    );
    assert!(
        available.abs_diff(QUOTA_BYTES - used) < BLOCK,
        "df available {available}, quota - used {}",
        QUOTA_BYTES - used
    );

    let statfs = run_ok("stat", &["-f", "-c", "%b %f %a %S", path_arg(mount.path())]);
    let fields: Vec<u64> = String::from_utf8_lossy(&statfs.stdout)
        .split_whitespace()
        .map(|field| field.parse().unwrap())
        .collect();
    let [blocks, free, avail, block_size] = [fields[0], fields[1], fields[2], fields[3]];
    assert_eq!(blocks * block_size, QUOTA_BYTES, "stat -f blocks");
    assert_eq!(free, avail, "stat -f free and available blocks");
    assert!(
        (avail * block_size).abs_diff(QUOTA_BYTES - used) < block_size,
        "stat -f available {avail} blocks"
    );

    let inodes = stdout_lines(&run_ok("df", &["-i", path_arg(mount.path())]));
    let inodes_used: u64 = inodes[1]
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(inodes_used, objects, "df -i used inodes");

    let file = mount.join(&format!("{container}/a.bin"));
    let du = run_ok("du", &["-B1", path_arg(&file)]);
    let du_bytes: u64 = String::from_utf8_lossy(&du.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(du_bytes >= 10 << 20, "du -B1 of a.bin: {du_bytes}");
    assert_eq!(
        stat("%s %b %B", &file),
        format!("{} {} 512", 10 << 20, (10 << 20) / 512)
    );
    drop(mount);

    // Without a quota the total is the usage plus 1 PiB.
    drop(quota);
    let mount = Mount::start(MountOptions::new(QUOTA_ACCOUNT));
    let [total, df_used, _] = df_numbers(&["-B1", path_arg(mount.path())]);
    assert!(
        df_used.abs_diff(used) < BLOCK,
        "df used without quota {df_used}"
    );
    assert!(
        total.abs_diff(used + (1 << 50)) < BLOCK,
        "df total without quota {total}, expected {}",
        used + (1 << 50)
    );
}

// ----- requests per ls -l -----

#[test]
fn ls_l_request_counts() {
    let api = SwiftApi::tempauth();
    require_seeded_page(&api);

    // TTLs far beyond the test's run time, so the warm ls -l is within them.
    let mount = mount(&["--dir-ttl", "600", "--attr-ttl", "600"]);
    let dir = mount.join("page/wide");
    run_ok("stat", &[path_arg(&dir)]);

    // 12,000 entries at Swift's default limit of 10,000 rows per page.
    let before = mount.stats();
    let cold = ls(&["-l"], &dir);
    let after_cold = mount.stats();
    assert_eq!(cold.len(), 12_001, "ls -l lines (with the total)");
    assert_eq!(
        after_cold["listing"] - before["listing"],
        2,
        "cold listing requests"
    );
    assert_eq!(after_cold["head"] - before["head"], 0, "cold HEAD requests");
    assert_eq!(after_cold["get"] - before["get"], 0, "cold GET requests");

    let warm = ls(&["-l"], &dir);
    let after_warm = mount.stats();
    assert_eq!(warm, cold, "warm ls -l output");
    assert_eq!(
        requests_between(&after_cold, &after_warm),
        0,
        "warm requests"
    );
}
