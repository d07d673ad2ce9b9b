//! `ObjectReader` against in-memory objects: plain, slow, failing, and one
//! that changes while open.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;

use super::{ObjectReader, ReadConfig};
use crate::fs::error::FsError;
use crate::fs::prefetch::Prefetcher;
use crate::fs::source::RangeSource;
use crate::swift::SwiftError;

const KIB: u64 = 1024;

/// Small sizes so that a few MiB exercise every stage of the window.
fn config() -> ReadConfig {
    ReadConfig {
        small_file_max: 8 * KIB,
        first_window: 16 * KIB,
        max_window: 256 * KIB,
        prefetch_threads: 4,
        file_prefetch_max: 512 * KIB,
        total_prefetch_max: 1024 * KIB,
    }
}

/// Deterministic content that differs at every offset within a few MiB.
fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

/// An in-memory object. Setting `changed` makes it a new version, after
/// which every fetch fails with 412, as Swift responds to a `GET` with a
/// stale `If-Match`.
struct FakeObject {
    data: Vec<u8>,
    delay: Duration,
    /// HTTP status of every fetch while set (for example 503).
    failing: Mutex<Option<u16>>,
    changed: AtomicBool,
    requests: Mutex<Vec<(u64, u64)>>,
    bytes_fetched: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl FakeObject {
    fn new(data: Vec<u8>) -> Arc<FakeObject> {
        FakeObject::slow(data, Duration::ZERO)
    }

    fn slow(data: Vec<u8>, delay: Duration) -> Arc<FakeObject> {
        Arc::new(FakeObject {
            data,
            delay,
            failing: Mutex::new(None),
            changed: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
            bytes_fetched: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        })
    }

    fn request_count(&self) -> usize {
        self.requests.lock().len()
    }

    fn bytes_fetched(&self) -> u64 {
        self.bytes_fetched.load(Ordering::SeqCst)
    }
}

impl RangeSource for FakeObject {
    fn fetch(&self, start: u64, end: u64) -> Result<Bytes, SwiftError> {
        self.requests.lock().push((start, end));
        let running = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(running, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);

        if self.changed.load(Ordering::SeqCst) {
            return Err(SwiftError::PreconditionFailed {
                path: "c/o".into(),
                trans_id: "tx-fake".into(),
            });
        }
        if let Some(status) = *self.failing.lock() {
            return Err(SwiftError::Status {
                method: "GET",
                path: "c/o".into(),
                status,
                trans_id: "tx-fake".into(),
            });
        }
        let len = self.data.len() as u64;
        let from = start.min(len) as usize;
        let to = end.min(len) as usize;
        self.bytes_fetched
            .fetch_add((to - from) as u64, Ordering::SeqCst);
        Ok(Bytes::copy_from_slice(&self.data[from..to]))
    }

    fn display(&self) -> &str {
        "c/o"
    }
}

fn largest_request(object: &FakeObject) -> u64 {
    object
        .requests
        .lock()
        .iter()
        .map(|(start, end)| end - start)
        .max()
        .unwrap_or(0)
}

/// `true` when no byte was requested twice.
fn requests_disjoint(object: &FakeObject) -> bool {
    let mut requests = object.requests.lock().clone();
    requests.sort();
    requests.windows(2).all(|pair| pair[0].1 <= pair[1].0)
}

fn reader_with(object: &Arc<FakeObject>, config: ReadConfig) -> ObjectReader {
    let prefetcher = Arc::new(Prefetcher::new(
        config.prefetch_threads,
        config.total_prefetch_max,
    ));
    ObjectReader::new(object.clone(), object.data.len() as u64, config, prefetcher)
}

fn reader(object: &Arc<FakeObject>) -> ObjectReader {
    reader_with(object, config())
}

/// Reads `offset..offset + len` and checks it against the object.
fn check_read(reader: &ObjectReader, data: &[u8], offset: u64, len: u32) {
    let got = reader.read(offset, len).unwrap();
    let start = (offset as usize).min(data.len());
    let end = (offset as usize + len as usize).min(data.len());
    assert_eq!(got.len(), end - start, "length at offset {offset}");
    assert!(got == data[start..end], "bytes differ at offset {offset}");
}

#[test]
fn sequential_read_matches() {
    let data = content(3 * 1024 * 1024 + 123, 1);
    let object = FakeObject::new(data.clone());
    let reader = reader(&object);
    let mut offset = 0;
    while offset < data.len() as u64 {
        check_read(&reader, &data, offset, 128 * 1024);
        offset += 128 * 1024;
    }
}

#[test]
fn sequential_read_fetches_each_byte_once() {
    let data = content(2 * 1024 * 1024, 2);
    let object = FakeObject::new(data.clone());
    let reader = reader(&object);
    let mut offset = 0;
    while offset < data.len() as u64 {
        check_read(&reader, &data, offset, 32 * 1024);
        offset += 32 * 1024;
    }
    assert_eq!(object.bytes_fetched(), data.len() as u64);
}

#[test]
fn sequential_read_prefetches_in_parallel() {
    let data = content(4 * 1024 * 1024, 3);
    let object = FakeObject::slow(data.clone(), Duration::from_millis(20));
    let reader = reader(&object);
    let mut offset = 0;
    while offset < data.len() as u64 {
        check_read(&reader, &data, offset, 64 * 1024);
        offset += 64 * 1024;
    }
    let parallel = object.max_in_flight.load(Ordering::SeqCst);
    assert!(parallel >= 3, "at most {parallel} fetches ran at once");
}

#[test]
fn window_grows_to_max() {
    let data = content(4 * 1024 * 1024, 4);
    let object = FakeObject::new(data.clone());
    let reader = reader_with(
        &object,
        ReadConfig {
            max_window: 1024 * KIB,
            ..config()
        },
    );
    for index in 0..100 {
        check_read(&reader, &data, index * 16 * KIB, 16 * 1024);
    }
    let largest = largest_request(&object);
    // Reads fetch 16 KiB themselves, and prefetched parts start at 64 KiB.
    // Parts are a quarter of the window, so 256 KiB once the window
    // reaches its 1 MiB maximum.
    assert_eq!(largest, 256 * KIB);
}

#[test]
fn random_offsets_match() {
    let data = content(2 * 1024 * 1024 + 7, 5);
    let object = FakeObject::new(data.clone());
    let reader = reader(&object);
    let mut rng = fastrand::Rng::with_seed(42);
    for _ in 0..300 {
        let offset = rng.u64(..data.len() as u64 + 1000);
        let len = rng.u32(1..200_000);
        check_read(&reader, &data, offset, len);
    }
}

#[test]
fn header_and_tail_reads_fetch_little() {
    let data = content(5 * 1024 * 1024, 6);
    let object = FakeObject::new(data.clone());
    let reader = reader(&object);
    check_read(&reader, &data, 0, 4096);
    check_read(&reader, &data, data.len() as u64 - 4096, 4096);
    // Each read after a seek fetches one first window.
    assert_eq!(object.bytes_fetched(), 16 * KIB + 4096);
}

#[test]
fn header_read_fetch_bounded() {
    let data = content(5 * 1024 * 1024, 7);
    let object = FakeObject::new(data.clone());
    let reader = reader_with(
        &object,
        ReadConfig {
            first_window: 128 * KIB,
            max_window: 16 * 1024 * KIB,
            file_prefetch_max: 32 * 1024 * KIB,
            total_prefetch_max: 64 * 1024 * KIB,
            ..config()
        },
    );
    // The requests the kernel sends for `head -c 262144` on Linux 6.18.
    for (offset, len) in [(0, 16), (16, 32), (48, 64), (112, 128), (240, 128)] {
        check_read(&reader, &data, offset * KIB, len * 1024);
    }
    drop(reader);
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        object.bytes_fetched() <= 384 * KIB,
        "fetched {} bytes for 256 KiB read",
        object.bytes_fetched()
    );
}

#[test]
fn reads_straddling_parts_match() {
    let data = content(3 * 1024 * 1024, 8);
    let object = FakeObject::new(data.clone());
    let reader = reader(&object);
    // Odd lengths put most reads across the boundary of two parts.
    let mut offset = 0;
    for len in [1u32, 16_383, 16_385, 65_537, 100_000, 333_333, 7]
        .iter()
        .cycle()
    {
        if offset >= data.len() as u64 {
            break;
        }
        check_read(&reader, &data, offset, *len);
        offset += u64::from(*len);
    }
}

#[test]
fn one_read_spanning_many_parts_matches() {
    let data = content(3 * 1024 * 1024, 9);
    let object = FakeObject::new(data.clone());
    let reader = reader(&object);
    for index in 0..20 {
        check_read(&reader, &data, index * 32 * KIB, 32 * 1024);
    }
    check_read(&reader, &data, 20 * 32 * KIB, 1024 * 1024);
}

#[test]
fn concurrent_readers_of_one_handle_match() {
    let data = Arc::new(content(4 * 1024 * 1024, 10));
    let object = FakeObject::slow(data.to_vec(), Duration::from_millis(1));
    let reader = Arc::new(reader(&object));
    let threads: Vec<_> = (0..4u64)
        .map(|index| {
            let reader = reader.clone();
            let data = data.clone();
            std::thread::spawn(move || {
                let region = 1024 * 1024;
                let mut offset = index * region;
                while offset < (index + 1) * region {
                    check_read(&reader, &data, offset, 48 * 1024);
                    offset += 48 * 1024;
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn reordered_reads_stay_sequential() {
    let data = content(2 * 1024 * 1024, 11);
    let object = FakeObject::new(data.clone());
    let reader = reader(&object);
    // Kernel readahead served by several threads arrives out of order.
    for pair in 0..16u64 {
        let base = pair * 64 * KIB;
        check_read(&reader, &data, base + 32 * KIB, 32 * 1024);
        check_read(&reader, &data, base, 32 * 1024);
    }
    // A read taken for a seek would restart the window at 16 KiB parts
    // and fetch some ranges again.
    assert_eq!(largest_request(&object), 64 * KIB);
    assert!(requests_disjoint(&object), "{:?}", object.requests.lock());
}

#[test]
fn read_at_end_is_short() {
    let data = content(100 * 1024, 12);
    let object = FakeObject::new(data.clone());
    let reader = reader(&object);
    let got = reader.read(data.len() as u64 - 10, 100).unwrap();
    assert!(got == data[data.len() - 10..]);
}

#[test]
fn read_at_and_past_end_is_empty() {
    let data = content(100 * 1024, 13);
    let object = FakeObject::new(data.clone());
    let reader = reader(&object);
    assert!(reader.read(data.len() as u64, 100).unwrap().is_empty());
    assert!(reader
        .read(data.len() as u64 + 5000, 100)
        .unwrap()
        .is_empty());
    assert_eq!(object.request_count(), 0);
}

#[test]
fn empty_object_reads_nothing() {
    let object = FakeObject::new(Vec::new());
    let reader = reader(&object);
    assert!(reader.read(0, 4096).unwrap().is_empty());
    assert_eq!(object.request_count(), 0);
}

#[test]
fn zero_length_read_fetches_nothing() {
    let object = FakeObject::new(content(64 * 1024, 14));
    let reader = reader(&object);
    assert!(reader.read(10, 0).unwrap().is_empty());
    assert_eq!(object.request_count(), 0);
}

#[test]
fn small_object_fetched_whole_once() {
    let data = content(8 * 1024, 15);
    let object = FakeObject::new(data.clone());
    let reader = reader(&object);
    check_read(&reader, &data, 100, 10);
    check_read(&reader, &data, 5000, 4000);
    check_read(&reader, &data, 0, 10);
    assert_eq!(*object.requests.lock(), vec![(0, 8 * KIB)]);
}

#[test]
fn object_shorter_than_listed_returns_what_exists() {
    let data = content(100 * 1024, 16);
    let object = FakeObject::new(data.clone());
    // The listing claimed 200 KiB, but only 100 KiB exist.
    let reader = ObjectReader::new(
        object.clone(),
        200 * KIB,
        config(),
        Arc::new(Prefetcher::new(2, 1024 * KIB)),
    );
    let got = reader.read(90 * KIB, 20 * 1024).unwrap();
    assert!(got == data[90 * 1024..]);
    assert!(reader.read(150 * KIB, 100).unwrap().is_empty());
}

#[test]
fn prefetch_bounded_by_file_cap() {
    let data = content(4 * 1024 * 1024, 17);
    let object = FakeObject::slow(data.clone(), Duration::from_millis(2));
    let cap = 96 * KIB;
    let reader = reader_with(
        &object,
        ReadConfig {
            file_prefetch_max: cap,
            ..config()
        },
    );
    let mut offset = 0;
    while offset < data.len() as u64 {
        check_read(&reader, &data, offset, 32 * 1024);
        offset += 32 * 1024;
    }
    assert!(reader.file_budget().peak() <= cap);
    // The cap held the window back, yet prefetch still ran.
    assert!(reader.file_budget().peak() > 0);
}

#[test]
fn prefetch_bounded_by_total_cap() {
    let data = Arc::new(content(2 * 1024 * 1024, 18));
    let object = FakeObject::slow(data.to_vec(), Duration::from_millis(2));
    let cap = 128 * KIB;
    let prefetcher = Arc::new(Prefetcher::new(4, cap));
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let reader = ObjectReader::new(
                object.clone(),
                data.len() as u64,
                config(),
                prefetcher.clone(),
            );
            let data = data.clone();
            std::thread::spawn(move || {
                let mut offset = 0;
                while offset < data.len() as u64 {
                    check_read(&reader, &data, offset, 32 * 1024);
                    offset += 32 * 1024;
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(prefetcher.budget().peak() <= cap);
    assert!(prefetcher.budget().peak() > 0);
    assert_eq!(prefetcher.budget().used(), 0);
}

#[test]
fn changed_object_fails_without_mixing() {
    let data = content(2 * 1024 * 1024, 19);
    let object = FakeObject::slow(data.clone(), Duration::from_millis(1));
    let reader = reader(&object);
    for index in 0..4 {
        check_read(&reader, &data, index * 32 * KIB, 32 * 1024);
    }
    object.changed.store(true, Ordering::SeqCst);

    let mut first_error = None;
    let mut offset = 4 * 32 * KIB;
    while offset < data.len() as u64 {
        match reader.read(offset, 32 * 1024) {
            // Parts fetched before the change hold the old version only.
            Ok(got) => assert!(
                got == data[offset as usize..offset as usize + got.len()],
                "new bytes at offset {offset}"
            ),
            Err(error) => {
                first_error.get_or_insert(offset);
                assert_eq!(error.errno(), libc::EIO, "errno at offset {offset}");
            }
        }
        offset += 32 * 1024;
    }
    assert!(first_error.is_some(), "no read failed after the change");
    // Once the change is known, even parts already buffered are refused.
    let again = reader.read(0, 4096);
    assert!(matches!(again, Err(FsError::ReadFailed { .. })));
}

#[test]
fn failed_fetch_retried_by_next_read() {
    let data = content(1024 * 1024, 20);
    let object = FakeObject::new(data.clone());
    let reader = reader(&object);
    *object.failing.lock() = Some(503);
    let error = reader.read(300 * KIB, 4096).unwrap_err();
    assert_eq!(error.errno(), libc::EIO);
    assert!(error.to_string().contains("c/o"), "message: {error}");

    *object.failing.lock() = None;
    check_read(&reader, &data, 300 * KIB, 4096);
}

#[test]
fn release_cancels_queued_prefetch() {
    let data = content(8 * 1024 * 1024, 21);
    let object = FakeObject::slow(data.clone(), Duration::from_millis(30));
    let config = ReadConfig {
        prefetch_threads: 1,
        max_window: 2048 * KIB,
        file_prefetch_max: 4096 * KIB,
        total_prefetch_max: 4096 * KIB,
        ..config()
    };
    let prefetcher = Arc::new(Prefetcher::new(1, config.total_prefetch_max));
    let reader = ObjectReader::new(
        object.clone(),
        data.len() as u64,
        config,
        prefetcher.clone(),
    );
    for index in 0..8 {
        check_read(&reader, &data, index * 16 * KIB, 16 * 1024);
    }
    let queued = prefetcher.budget().used();
    assert!(queued > 0, "nothing was prefetched");
    drop(reader);
    // Only the download in progress keeps its budget until it ends.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(prefetcher.budget().used(), 0);
    let requests = object.request_count();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(object.request_count(), requests, "fetches after release");
}

#[test]
fn without_workers_window_still_grows() {
    let data = content(2 * 1024 * 1024, 22);
    let object = FakeObject::new(data.clone());
    let reader = reader_with(
        &object,
        ReadConfig {
            prefetch_threads: 0,
            ..config()
        },
    );
    let mut offset = 0;
    while offset < data.len() as u64 {
        check_read(&reader, &data, offset, 16 * 1024);
        offset += 16 * 1024;
    }
    // 16, 16, 32, 64 and 128 KiB, then 256 KiB per request.
    assert_eq!(object.request_count(), 5 + 7);
}
