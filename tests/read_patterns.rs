//! Read patterns through a real mount, checked byte for byte against direct
//! downloads: sequential, random offsets, reads across window and segment
//! boundaries, concurrent readers of one file, reads at and past the end,
//! a slow read beside `stat`, and an object overwritten during a read.
//! Each test writes into its own container and deletes it at the end.
//! Needs `scripts/swift-up`.

mod common;

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{Mount, MountOptions, SwiftApi};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// Deterministic random bytes, different for each seed.
fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut data = vec![0u8; len];
    rng.fill(&mut data);
    data
}

/// A container of this test's own, deleted with its objects on drop.
struct Fixture {
    api: SwiftApi,
    container: String,
    /// Extra containers (large object segments), deleted too.
    others: Vec<String>,
}

impl Fixture {
    fn new(base: &str) -> Fixture {
        let api = SwiftApi::tempauth();
        let container = common::unique_name(base);
        api.create_container(&container);
        Fixture {
            api,
            container,
            others: Vec::new(),
        }
    }

    /// Uploads `data` as `name` and returns it as downloaded directly.
    fn put(&self, name: &str, data: &[u8]) -> Vec<u8> {
        let path = format!("{}/{name}", self.container);
        self.api.put(&path, data, &[]);
        self.api.get(&path)
    }

    fn mount(&self, extra: &[&str]) -> Mount {
        let mut options = MountOptions::new("tempauth")
            .arg("--container")
            .arg(&self.container);
        for arg in extra {
            options = options.arg(arg);
        }
        Mount::start(options)
    }

    fn delete_container(&self, container: &str) {
        for row in self.api.list(container) {
            let name = row["name"].as_str().unwrap_or_default();
            let _ = self
                .api
                .request(reqwest::Method::DELETE, &format!("{container}/{name}"))
                .send();
        }
        let _ = self.api.request(reqwest::Method::DELETE, container).send();
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.delete_container(&self.container);
        for other in &self.others {
            self.delete_container(other);
        }
    }
}

/// Reads a whole file with reads of `chunk` bytes, as `dd bs=chunk` does.
fn read_in_chunks(path: &Path, chunk: usize) -> Vec<u8> {
    let mut file = File::open(path).unwrap();
    let mut all = Vec::new();
    let mut buffer = vec![0u8; chunk];
    loop {
        let count = file.read(&mut buffer).unwrap();
        if count == 0 {
            return all;
        }
        all.extend_from_slice(&buffer[..count]);
    }
}

/// Positioned read of up to `len` bytes, looping over short reads.
fn read_at(file: &File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buffer = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let count = file.read_at(&mut buffer[filled..], offset + filled as u64)?;
        if count == 0 {
            break;
        }
        filled += count;
    }
    buffer.truncate(filled);
    Ok(buffer)
}

/// Compares without printing megabytes on failure.
fn assert_same(got: &[u8], expected: &[u8], what: &str) {
    assert_eq!(got.len(), expected.len(), "length of {what}");
    let first_difference = got.iter().zip(expected).position(|(a, b)| a != b);
    assert_eq!(first_difference, None, "first differing byte of {what}");
}

#[test]
fn sequential_reads_match_download() {
    let fixture = Fixture::new("readpat-seq");
    let sizes = [0, 1, 100 * KIB, 300 * KIB, 3 * MIB + 17, 64 * MIB];
    let mut objects = Vec::new();
    for (index, size) in sizes.iter().enumerate() {
        let name = format!("seq/{size}.bin");
        let direct = fixture.put(&name, &content(*size, index as u64));
        objects.push((name, direct));
    }
    let mount = fixture.mount(&[]);

    for (name, direct) in &objects {
        let path = mount.join(name);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), direct.len() as u64);
        assert_same(
            &read_in_chunks(&path, MIB),
            direct,
            &format!("{name} (1 MiB reads)"),
        );
    }
    // Another mount, so the page cache cannot serve them; small reads as `cat`.
    drop(mount);
    let mount = fixture.mount(&[]);
    for (name, direct) in &objects {
        let through_mount = read_in_chunks(&mount.join(name), 128 * KIB);
        assert_same(&through_mount, direct, &format!("{name} (128 KiB reads)"));
    }
}

#[test]
fn random_offsets_match_download() {
    let fixture = Fixture::new("readpat-random");
    let direct = fixture.put("random.bin", &content(24 * MIB + 5, 11));
    let mount = fixture.mount(&[]);
    let file = File::open(mount.join("random.bin")).unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..150 {
        let offset = rng.usize(..direct.len());
        let len = rng.usize(1..400 * KIB);
        let got = read_at(&file, offset as u64, len).unwrap();
        let end = (offset + len).min(direct.len());
        assert_same(
            &got,
            &direct[offset..end],
            &format!("{len} bytes at {offset}"),
        );
    }
}

#[test]
fn reads_straddling_windows_match() {
    let fixture = Fixture::new("readpat-straddle");
    let direct = fixture.put("straddle.bin", &content(20 * MIB + 3, 12));
    let mount = fixture.mount(&[]);
    let file = File::open(mount.join("straddle.bin")).unwrap();
    // Each read crosses a power-of-two boundary: the first window, kernel
    // request sizes and the parts of a growing window all end on one.
    let mut boundary = 128 * KIB;
    while boundary < direct.len() {
        for (before, len) in [(1, 2), (100, 4 * KIB), (70 * KIB, 300 * KIB)] {
            let offset = boundary - before;
            let got = read_at(&file, offset as u64, len).unwrap();
            let end = (offset + len).min(direct.len());
            assert_same(
                &got,
                &direct[offset..end],
                &format!("{len} bytes at {offset}"),
            );
        }
        boundary *= 2;
    }
    // One read of 5 MiB from an odd offset spans several parts.
    let got = read_at(&file, 3 * MIB as u64 + 1, 5 * MIB).unwrap();
    assert_same(&got, &direct[3 * MIB + 1..8 * MIB + 1], "5 MiB read");
}

#[test]
fn concurrent_readers_of_one_file_match() {
    let fixture = Fixture::new("readpat-concurrent");
    let direct = Arc::new(fixture.put("shared.bin", &content(32 * MIB, 13)));
    let mount = fixture.mount(&[]);
    let file = Arc::new(File::open(mount.join("shared.bin")).unwrap());

    let threads: Vec<_> = (0..4)
        .map(|index| {
            let file = file.clone();
            let direct = direct.clone();
            std::thread::spawn(move || {
                let region = direct.len() / 4;
                let start = index * region;
                let mut offset = start;
                while offset < start + region {
                    let got = read_at(&file, offset as u64, 256 * KIB).unwrap();
                    assert_same(
                        &got,
                        &direct[offset..offset + 256 * KIB],
                        &format!("thread {index} at {offset}"),
                    );
                    offset += 256 * KIB;
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn reads_at_and_past_end() {
    let fixture = Fixture::new("readpat-eof");
    let direct = fixture.put("eof.bin", &content(3 * MIB + 7, 14));
    let small = fixture.put("small.bin", &content(1000, 15));
    let mount = fixture.mount(&[]);

    let file = File::open(mount.join("eof.bin")).unwrap();
    let len = direct.len() as u64;
    let tail = read_at(&file, len - 10, 100).unwrap();
    assert_same(&tail, &direct[direct.len() - 10..], "last 10 bytes");
    assert_eq!(read_at(&file, len, 100).unwrap().len(), 0, "read at end");
    assert_eq!(
        read_at(&file, len + 5000, 100).unwrap().len(),
        0,
        "read past end"
    );

    let file = File::open(mount.join("small.bin")).unwrap();
    assert_same(
        &read_at(&file, 990, 100).unwrap(),
        &small[990..],
        "small tail",
    );
    assert_eq!(read_at(&file, 1000, 1).unwrap().len(), 0, "small at end");
    assert_eq!(read_at(&file, 4096, 1).unwrap().len(), 0, "small past end");
}

/// B07: segments of 1 MiB of `a`, 1 MiB of `b` and `tail-bytes`, as a
/// Dynamic and a Static Large Object.
#[test]
fn large_objects_read_across_segments() {
    let mut fixture = Fixture::new("readpat-lo");
    let segments = format!("{}_segments", fixture.container);
    fixture.api.create_container(&segments);
    fixture.others.push(segments.clone());
    let parts: [(&str, Vec<u8>); 3] = [
        ("00000001", vec![b'a'; MIB]),
        ("00000002", vec![b'b'; MIB]),
        ("00000003", b"tail-bytes".to_vec()),
    ];
    for (name, data) in &parts {
        fixture
            .api
            .put(&format!("{segments}/big/{name}"), data, &[]);
    }
    let expected: Vec<u8> = parts.iter().flat_map(|(_, data)| data.clone()).collect();

    let manifest = format!("{segments}/big/");
    fixture.api.put(
        &format!("{}/lo/dlo.bin", fixture.container),
        b"",
        &[("X-Object-Manifest", manifest.as_str())],
    );
    let slo: Vec<String> = parts
        .iter()
        .map(|(name, _)| format!("{{\"path\":\"/{segments}/big/{name}\"}}"))
        .collect();
    let response = fixture
        .api
        .request(
            reqwest::Method::PUT,
            &format!("{}/lo/slo.bin", fixture.container),
        )
        .query(&[("multipart-manifest", "put")])
        .body(format!("[{}]", slo.join(",")))
        .send()
        .unwrap();
    assert!(
        response.status().is_success(),
        "SLO PUT: {}",
        response.status()
    );

    let mount = fixture.mount(&[]);
    for name in ["lo/dlo.bin", "lo/slo.bin"] {
        let path = mount.join(name);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            2_097_162,
            "size of {name}"
        );
        assert_same(&read_in_chunks(&path, 128 * KIB), &expected, name);

        let file = File::open(&path).unwrap();
        let across = read_at(&file, 1_048_570, 12).unwrap();
        assert_eq!(
            across, b"aaaaaabbbbbb",
            "read across the boundary of {name}"
        );
        let tail = read_at(&file, 2_097_152, 100).unwrap();
        assert_eq!(tail, b"tail-bytes", "tail of {name}");
        assert_eq!(
            read_at(&file, 2_097_162, 10).unwrap().len(),
            0,
            "end of {name}"
        );
    }
}

/// `scripts/lib/delay-proxy.py` in front of the local Swift, stopped on drop.
struct DelayProxy {
    child: Child,
    port: u16,
}

impl DelayProxy {
    fn start(rtt_ms: u32, window: usize) -> DelayProxy {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lib/delay-proxy.py");
        let swift_port = common::credentials("tempauth")["OS_AUTH_URL"]
            .rsplit(':')
            .next()
            .and_then(|rest| rest.split('/').next())
            .unwrap()
            .to_string();
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .args([swift_port, rtt_ms.to_string(), window.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start delay proxy");
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        let port = line.trim().parse().expect("proxy port");
        DelayProxy { child, port }
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn slow_read_leaves_stat_answering() {
    let fixture = Fixture::new("readpat-slow");
    let direct = fixture.put("slow.bin", &content(24 * MIB, 16));
    fixture.put("other.bin", &content(10, 17));
    // 64 KiB per 50 ms round trip is about 1.3 MB/s per connection, so the
    // read below takes at least 4 s even with several GETs in parallel.
    let proxy = DelayProxy::start(50, 64 * KIB);
    let storage_url = SwiftApi::tempauth().storage_url;
    let (_, path) = storage_url.split_at(storage_url.find("/v1/").unwrap());
    let mount = Mount::start(
        MountOptions::new("tempauth")
            .env(
                "OS_STORAGE_URL",
                &format!("http://127.0.0.1:{}{path}", proxy.port),
            )
            .arg("--container")
            .arg(&fixture.container),
    );

    let slow_path = mount.join("slow.bin");
    let reader = std::thread::spawn(move || read_in_chunks(&slow_path, MIB));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !reader.is_finished(),
        "the slow read ended too soon to test"
    );

    let metadata = std::fs::metadata(mount.join("other.bin")).unwrap();
    assert_eq!(metadata.len(), 10);
    let names = std::fs::read_dir(mount.path()).unwrap().count();
    assert_eq!(names, 2);
    assert_eq!(std::fs::read(mount.join("other.bin")).unwrap().len(), 10);
    // The lookup, listing and read above ran while the slow read went on.
    assert!(!reader.is_finished(), "stat waited for the slow read");

    let through_mount = reader.join().unwrap();
    assert_same(&through_mount, &direct, "slow read");
}

#[test]
fn overwrite_during_read_never_mixes() {
    let fixture = Fixture::new("readpat-overwrite");
    let old = fixture.put("changing.bin", &content(48 * MIB, 18));
    let new = content(48 * MIB, 19);
    // Attributes are not cached, so the next open gets the new ETag.
    let mount = fixture.mount(&["--attr-ttl", "0"]);
    let file = File::open(mount.join("changing.bin")).unwrap();
    let first = read_at(&file, 0, MIB).unwrap();
    assert_same(&first, &old[..MIB], "first MiB");

    fixture.put("changing.bin", &new);
    let mut failed_at = None;
    let mut offset = MIB;
    while offset < old.len() {
        match read_at(&file, offset as u64, MIB) {
            // Pages the kernel cached before the change may still be served.
            Ok(got) => {
                assert_same(
                    &got,
                    &old[offset..offset + got.len()],
                    &format!("MiB at {offset}"),
                );
            }
            Err(error) => {
                assert_eq!(error.raw_os_error(), Some(libc::EIO), "error at {offset}");
                failed_at.get_or_insert(offset);
            }
        }
        offset += MIB;
    }
    assert!(
        failed_at.is_some(),
        "no read failed although the object changed"
    );
    drop(file);

    let reopened = read_in_chunks(&mount.join("changing.bin"), MIB);
    assert_same(&reopened, &new, "the new version after reopening");
    let log = mount.stop();
    assert!(
        log.contains("changing.bin at offset"),
        "failure not logged:\n{log}"
    );
    assert!(
        log.contains("transaction tx"),
        "transaction id not logged:\n{log}"
    );
}
