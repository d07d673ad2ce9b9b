//! Reading an open object: demand fetches for what the kernel requests, and
//! ranges fetched ahead in parallel while reads are sequential.
//!
//! Each open file keeps a map of parts, the ranges it has fetched or is
//! fetching. A read waits for the parts that cover it and fetches any gap
//! itself, in the kernel request's thread. Once a stream of sequential reads
//! has covered `PREFETCH_AFTER_WINDOWS` first windows, the range ahead of
//! the reader is queued to the shared worker pool. Parts are a quarter of
//! the readahead window, and at least that many first windows long. So
//! several `GET`s run at once while the kernel consumes the current part. The window starts at the bytes the stream has
//! read and doubles with every further read up to `max_window`. A read far from the
//! last one (a seek) drops the parts it does not touch and starts a new
//! stream, so a program that reads a header, or the start and end of a
//! photo, fetches little more than it asks for.
//!
//! Every range comes from one `RangeSource`, pinned to the version seen at
//! open. Once Swift answers 412 (the object changed), every later read of the
//! handle fails, so a reader never gets bytes of two versions.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use log::{debug, warn};
use parking_lot::Mutex;

use crate::swift::SwiftError;

use super::error::FsError;
use super::prefetch::{MemoryBudget, Part, PartOutcome, Prefetcher};
use super::source::RangeSource;

#[cfg(test)]
mod tests;

/// Read settings, from the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadConfig {
    /// Objects up to this size (bytes) are fetched whole at the first read.
    pub small_file_max: u64,
    /// Bytes fetched by the first read of a larger object, and after a seek.
    pub first_window: u64,
    /// Largest readahead window: bytes requested ahead of a sequential reader.
    pub max_window: u64,
    /// Worker threads that fetch ahead, shared by all open files. With none,
    /// each read that misses fetches the whole window in its own thread.
    pub prefetch_threads: usize,
    /// Most prefetched bytes (queued, downloading or buffered) per open file.
    pub file_prefetch_max: u64,
    /// Most prefetched bytes for all open files together.
    pub total_prefetch_max: u64,
}

impl Default for ReadConfig {
    /// 256 KiB covers thumbnails and icons in one request, while a full-size
    /// photo (a few MB) is larger. The first window of 128 KiB matches one
    /// kernel read, so a program that reads a header fetches about that
    /// much. A 16 MiB window split into four 4 MiB parts keeps four `GET`s in
    /// flight per file, enough to hide a round trip of tens of milliseconds,
    /// and few enough that each `GET` pays Swift's per-request cost over
    /// megabytes. The file cap adds room for the part being read and the
    /// parts kept behind the reader. The total cap bounds the mount's
    /// prefetch memory at 64 MiB however many files are open.
    fn default() -> ReadConfig {
        ReadConfig {
            small_file_max: 256 * 1024,
            first_window: 128 * 1024,
            max_window: 16 * 1024 * 1024,
            prefetch_threads: 8,
            file_prefetch_max: 32 * 1024 * 1024,
            total_prefetch_max: 64 * 1024 * 1024,
        }
    }
}

/// First windows a stream reads before prefetch starts. The kernel's own
/// readahead turns a 256 KiB header read into requests for about 368 KiB
/// (measured on Linux 6.18 with the 64 KiB `max_readahead` that
/// `crate::fuse` sets), so prefetch that started earlier would fetch more
/// for every photo whose header is read.
const PREFETCH_AFTER_WINDOWS: u64 = 4;

/// Parts per readahead window, so that a sequential reader has this many
/// `GET`s in flight once its window is full.
const PARTS_PER_WINDOW: u64 = 4;

/// Largest part, so that one `GET` finishes well within the request timeout
/// (60 s by default) even at a few MB/s, whatever `max_window` is.
const MAX_PART_SIZE: u64 = 8 * 1024 * 1024;

/// How far a read may land behind or beyond the last one and still count as
/// sequential. The kernel sends a sequential reader's requests (up to
/// 128 KiB each) concurrently, and fuser's threads may serve them out of
/// order, so 1 MiB leaves room for several.
const REORDER_SLACK: u64 = 1024 * 1024;

/// The read state of one open object.
pub struct ObjectReader {
    source: Arc<dyn RangeSource>,
    size: u64,
    config: ReadConfig,
    prefetcher: Arc<Prefetcher>,
    /// This file's share of prefetch memory, `config.file_prefetch_max`.
    file_budget: Arc<MemoryBudget>,
    state: Mutex<ReadState>,
    /// Set once the first failed read is logged at warn, so the rest of the
    /// handle's failures go to debug.
    failure_logged: AtomicBool,
}

struct ReadState {
    /// Fetched and pending ranges by start offset; they never overlap.
    parts: BTreeMap<u64, Arc<Part>>,
    /// End of the furthest read of the current stream; `None` before the
    /// first read.
    next_offset: Option<u64>,
    /// Offset of the first read of the current stream.
    stream_start: u64,
    /// Sequential reads in a row; 0 for the first read of a stream.
    streak: u32,
    window: u64,
    /// `true` once the current stream has queued prefetch.
    prefetching: bool,
    /// Swift's 412 once the object changed: every later read fails with it.
    changed: Option<Arc<SwiftError>>,
}

/// The parts that cover one read, and those of them its thread must fetch.
struct Plan {
    covering: Vec<Arc<Part>>,
    own: Vec<Arc<Part>>,
}

impl ObjectReader {
    pub fn new(
        source: Arc<dyn RangeSource>,
        size: u64,
        config: ReadConfig,
        prefetcher: Arc<Prefetcher>,
    ) -> ObjectReader {
        ObjectReader {
            source,
            size,
            config,
            prefetcher,
            file_budget: MemoryBudget::new(config.file_prefetch_max),
            state: Mutex::new(ReadState {
                parts: BTreeMap::new(),
                next_offset: None,
                stream_start: 0,
                streak: 0,
                window: config.first_window,
                prefetching: false,
                changed: None,
            }),
            failure_logged: AtomicBool::new(false),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// This file's prefetch budget, for tests and diagnostics.
    pub fn file_budget(&self) -> &MemoryBudget {
        &self.file_budget
    }

    /// Returns up to `len` bytes at `offset`: fewer at the end of the object,
    /// none past it. Fails once the object has changed since open.
    pub fn read(&self, offset: u64, len: u32) -> Result<Bytes, FsError> {
        if offset >= self.size || len == 0 {
            return Ok(Bytes::new());
        }
        let end = (offset + u64::from(len)).min(self.size);
        let plan = self.plan(offset, end)?;
        for part in &plan.own {
            part.complete(self.source.fetch(part.start, part.end));
        }
        self.assemble(&plan.covering, offset, end)
            .map_err(|(part, error)| self.fail(&part, offset, error))
    }

    /// Decides, under the state lock, which parts serve `offset..end`,
    /// creates the missing ones and queues the prefetch.
    fn plan(&self, offset: u64, end: u64) -> Result<Plan, FsError> {
        let mut state = self.state.lock();
        if let Some(error) = &state.changed {
            return Err(self.report(offset, error.clone()));
        }
        if self.size <= self.config.small_file_max {
            let own = state.fill(0, self.size);
            let covering = state.covering(offset, end);
            return Ok(Plan { covering, own });
        }

        let sequential = state.is_sequential(offset);
        if sequential {
            state.streak = state.streak.saturating_add(1);
            state.next_offset = state.next_offset.max(Some(end));
        } else {
            state.restart(offset, end, self.config.first_window);
        }

        // A read that misses fetches at least a window from its offset. With
        // prefetch that is the first window, because the workers fetch the
        // rest. Without workers it is the whole current window, which then
        // doubles for the next miss.
        let mut own = Vec::new();
        if state.has_gap(offset, end) {
            let window = if self.prefetcher.enabled() {
                self.config.first_window
            } else {
                state.window
            };
            own = state.fill(offset, end.max(offset + window).min(self.size));
            if sequential && !self.prefetcher.enabled() {
                state.window = (state.window * 2).min(self.config.max_window);
            }
        }
        let streamed = end.saturating_sub(state.stream_start);
        if state.streak > 0
            && self.prefetcher.enabled()
            && streamed >= PREFETCH_AFTER_WINDOWS * self.config.first_window
        {
            self.prefetch(&mut state, end);
        }
        state.evict_behind(offset);
        let covering = state.covering(offset, end);
        Ok(Plan { covering, own })
    }

    /// Grows the window and queues parts from `end` up to the window's end,
    /// as far as both prefetch budgets allow.
    fn prefetch(&self, state: &mut ReadState, end: u64) {
        if state.prefetching {
            state.window = (state.window * 2).min(self.config.max_window);
        } else {
            // The first window is what the stream has read so far, so a
            // file read whole gets large parts soon after the header.
            state.prefetching = true;
            let streamed = end.saturating_sub(state.stream_start);
            state.window = streamed
                .max(self.config.first_window)
                .min(self.config.max_window);
        }
        let target = (end + state.window).min(self.size);
        // Each GET costs Swift a fixed amount of work (tens of milliseconds
        // on a busy cluster), so parts are never smaller than the stream
        // that started the prefetch.
        let min_part_size = PREFETCH_AFTER_WINDOWS * self.config.first_window;
        let part_size = (state.window / PARTS_PER_WINDOW)
            .max(min_part_size)
            .min(MAX_PART_SIZE);

        let mut cursor = end;
        while cursor < target {
            if let Some(part) = state.part_at(cursor) {
                cursor = part.end;
                continue;
            }
            let limit = state.next_part_start(cursor).unwrap_or(self.size);
            let part_end = (cursor + part_size).min(limit).min(self.size);
            let bytes = part_end - cursor;
            // A failed reservation leaves the rest for a later read: the
            // prefetch waits for memory instead of growing past a cap.
            let Some(file) = self.file_budget.try_reserve(bytes) else {
                break;
            };
            let Some(total) = self.prefetcher.budget().try_reserve(bytes) else {
                break;
            };
            let part = Part::queued(cursor, part_end, vec![file, total]);
            state.parts.insert(cursor, part.clone());
            self.prefetcher.submit(self.source.clone(), part);
            cursor = part_end;
        }
    }

    /// Waits for `covering` and joins the bytes of `offset..end`. On failure
    /// returns the failed part with its error.
    fn assemble(
        &self,
        covering: &[Arc<Part>],
        offset: u64,
        end: u64,
    ) -> Result<Bytes, (Arc<Part>, Arc<SwiftError>)> {
        let mut pieces = Vec::with_capacity(covering.len());
        let mut cursor = offset;
        for part in covering {
            let data = match part.wait() {
                PartOutcome::Ready(data) => data,
                PartOutcome::Failed(error) => return Err((part.clone(), error)),
                // Dropped before a worker got to it (a seek of another
                // thread, or the handle closing): fetch it here.
                PartOutcome::Cancelled => self
                    .source
                    .fetch(part.start, part.end)
                    .map_err(|error| (part.clone(), Arc::new(error)))?,
            };
            let available_end = part.start + data.len() as u64;
            let piece_end = end.min(available_end);
            if piece_end <= cursor {
                break;
            }
            let from = (cursor - part.start) as usize;
            let to = (piece_end - part.start) as usize;
            pieces.push(data.slice(from..to));
            cursor = piece_end;
            // A short part means the object ends before its listed size.
            if piece_end < end.min(part.end) {
                break;
            }
        }
        Ok(join(pieces))
    }

    /// Records a failed part. A 412 marks the object changed for every later
    /// read. Other failures drop the part, so that the next read tries again.
    fn fail(&self, part: &Arc<Part>, offset: u64, error: Arc<SwiftError>) -> FsError {
        let mut state = self.state.lock();
        if matches!(*error, SwiftError::PreconditionFailed { .. }) {
            state.changed.get_or_insert_with(|| error.clone());
        }
        if let Some(current) = state.parts.get(&part.start) {
            if Arc::ptr_eq(current, part) {
                state.parts.remove(&part.start);
            }
        }
        drop(state);
        self.report(offset, error)
    }

    /// Logs a failed read (at warn the first time for this handle, with
    /// Swift's transaction id) and wraps it for the caller.
    fn report(&self, offset: u64, error: Arc<SwiftError>) -> FsError {
        let path = self.source.display().to_string();
        let trans_id = error.trans_id().unwrap_or("none");
        if !self.failure_logged.swap(true, Ordering::Relaxed) {
            warn!("read of {path} at offset {offset} failed (transaction {trans_id}): {error}");
        } else {
            debug!("read of {path} at offset {offset} failed again: {error}");
        }
        FsError::ReadFailed {
            path,
            offset,
            source: error,
        }
    }
}

impl Drop for ObjectReader {
    /// Cancels the parts still queued, so a closed file stops costing
    /// requests; downloads in progress finish and are dropped.
    fn drop(&mut self) {
        for part in self.state.get_mut().parts.values() {
            part.cancel();
        }
    }
}

impl ReadState {
    /// `true` when `offset` continues the current stream: near the end of
    /// the last read or inside the range already requested.
    fn is_sequential(&self, offset: u64) -> bool {
        let Some(next_offset) = self.next_offset else {
            return false;
        };
        let requested_end = self
            .parts
            .values()
            .next_back()
            .map_or(next_offset, |part| part.end.max(next_offset));
        offset + REORDER_SLACK >= next_offset && offset <= requested_end + REORDER_SLACK
    }

    /// Starts a new stream at `offset` and drops the parts that the read
    /// `offset..end` does not touch.
    fn restart(&mut self, offset: u64, end: u64, first_window: u64) {
        self.parts.retain(|_, part| {
            let keep = part.start < end && part.end > offset;
            if !keep {
                part.cancel();
            }
            keep
        });
        self.next_offset = Some(end);
        self.stream_start = offset;
        self.streak = 0;
        self.window = first_window;
        self.prefetching = false;
    }

    /// Drops the parts that end more than `REORDER_SLACK` before `offset`.
    fn evict_behind(&mut self, offset: u64) {
        while let Some(entry) = self.parts.first_entry() {
            if entry.get().end + REORDER_SLACK > offset {
                break;
            }
            entry.remove().cancel();
        }
    }

    /// Returns the part that contains `offset`.
    fn part_at(&self, offset: u64) -> Option<&Arc<Part>> {
        self.parts
            .range(..=offset)
            .next_back()
            .map(|(_, part)| part)
            .filter(|part| part.end > offset)
    }

    /// Returns the start of the first part after `offset`.
    fn next_part_start(&self, offset: u64) -> Option<u64> {
        self.parts
            .range((Bound::Excluded(offset), Bound::Unbounded))
            .next()
            .map(|(start, _)| *start)
    }

    /// `true` when some byte of `from..to` is in no part.
    fn has_gap(&self, from: u64, to: u64) -> bool {
        let mut cursor = from;
        while cursor < to {
            match self.part_at(cursor) {
                Some(part) => cursor = part.end,
                None => return true,
            }
        }
        false
    }

    /// Creates parts, fetched by the calling thread, for the gaps in
    /// `from..to`, and returns them.
    fn fill(&mut self, from: u64, to: u64) -> Vec<Arc<Part>> {
        let mut own = Vec::new();
        let mut cursor = from;
        while cursor < to {
            if let Some(part) = self.part_at(cursor) {
                cursor = part.end;
                continue;
            }
            let gap_end = self.next_part_start(cursor).unwrap_or(to).min(to);
            let part = Part::fetching(cursor, gap_end);
            self.parts.insert(cursor, part.clone());
            own.push(part);
            cursor = gap_end;
        }
        own
    }

    /// Returns the parts that overlap `offset..end`, in order. After `fill`
    /// they cover the range without gaps.
    fn covering(&self, offset: u64, end: u64) -> Vec<Arc<Part>> {
        let first = self.part_at(offset).map_or(offset, |part| part.start);
        self.parts
            .range(first..end)
            .map(|(_, part)| part.clone())
            .collect()
    }
}

/// Joins `pieces` into one buffer, copying only when there are several.
fn join(mut pieces: Vec<Bytes>) -> Bytes {
    match pieces.len() {
        0 => Bytes::new(),
        1 => pieces.pop().unwrap_or_default(),
        _ => {
            let total = pieces.iter().map(Bytes::len).sum();
            let mut joined = BytesMut::with_capacity(total);
            for piece in &pieces {
                joined.extend_from_slice(piece);
            }
            joined.freeze()
        }
    }
}
