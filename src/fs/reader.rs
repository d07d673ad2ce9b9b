//! Reading an open object: ranged GETs with a readahead window that grows
//! while reads are sequential.
//!
//! The kernel sends reads of at most 128 KiB (more with large `max_pages`),
//! and one GET per kernel read would pay a round trip every 128 KiB. So each
//! handle keeps one buffer: a read that misses fetches `window` bytes from
//! its offset, and the window doubles with each sequential miss up to
//! `max_window`, so that a stream pays one round trip per `max_window`
//! bytes. A read elsewhere resets the window, so an EXIF reader that touches
//! the start and the end of a photo fetches little more than it asks for.

use bytes::Bytes;
use parking_lot::Mutex;

use crate::swift::{SwiftClient, SwiftError};

/// Read settings, from the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadConfig {
    /// Objects up to this size (bytes) are fetched whole at the first read.
    pub small_file_max: u64,
    /// Bytes fetched by the first read of a larger object, and after a seek.
    pub first_window: u64,
    /// Largest readahead window, in bytes; also the buffer held per handle.
    pub max_window: u64,
}

impl Default for ReadConfig {
    /// 256 KiB covers thumbnails and icons in one request; a full-size photo
    /// (a few MB) is larger. The first window of 128 KiB matches one kernel
    /// read, so a program that reads a header fetches at most 128 KiB. An
    /// 8 MiB window makes round trips rare on a stream while bounding memory.
    fn default() -> ReadConfig {
        ReadConfig {
            small_file_max: 256 * 1024,
            first_window: 128 * 1024,
            max_window: 8 * 1024 * 1024,
        }
    }
}

struct Buffer {
    start: u64,
    data: Bytes,
    window: u64,
    /// The offset just past the last read, to detect sequential access.
    next_offset: u64,
}

/// The read state of one open object.
pub struct ObjectReader {
    container: String,
    object: String,
    size: u64,
    /// Sent as `If-Match` so that all bytes come from the version opened.
    if_match: Option<String>,
    config: ReadConfig,
    buffer: Mutex<Buffer>,
}

impl ObjectReader {
    pub fn new(
        container: String,
        object: String,
        size: u64,
        if_match: Option<String>,
        config: ReadConfig,
    ) -> ObjectReader {
        ObjectReader {
            container,
            object,
            size,
            if_match,
            config,
            buffer: Mutex::new(Buffer {
                start: 0,
                data: Bytes::new(),
                window: config.first_window,
                next_offset: 0,
            }),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Returns up to `len` bytes at `offset`; fewer at the end of the object,
    /// none past it.
    pub fn read(&self, client: &SwiftClient, offset: u64, len: u32) -> Result<Bytes, SwiftError> {
        if offset >= self.size || len == 0 {
            return Ok(Bytes::new());
        }
        let end = (offset + u64::from(len)).min(self.size);
        let mut buffer = self.buffer.lock();

        let buffer_end = buffer.start + buffer.data.len() as u64;
        if offset >= buffer.start && end <= buffer_end {
            buffer.next_offset = end;
            let from = (offset - buffer.start) as usize;
            let to = (end - buffer.start) as usize;
            return Ok(buffer.data.slice(from..to));
        }

        let sequential = offset == buffer.next_offset && offset > 0;
        buffer.window = if sequential {
            (buffer.window * 2).min(self.config.max_window)
        } else {
            self.config.first_window
        };
        let (fetch_start, fetch_end) = if self.size <= self.config.small_file_max {
            (0, self.size)
        } else {
            let wanted = (end - offset).max(buffer.window);
            (offset, (offset + wanted).min(self.size))
        };

        let data = client.get_range(
            &self.container,
            &self.object,
            fetch_start,
            fetch_end,
            self.if_match.as_deref(),
        )?;
        buffer.start = fetch_start;
        buffer.data = data;
        buffer.next_offset = end;

        // The object may be shorter than its listed size (it changed and was
        // not pinned by an ETag): return what exists.
        let available_end = (buffer.start + buffer.data.len() as u64).min(end);
        if available_end <= offset {
            return Ok(Bytes::new());
        }
        let from = (offset - buffer.start) as usize;
        let to = (available_end - buffer.start) as usize;
        Ok(buffer.data.slice(from..to))
    }
}
