//! The filesystem logic: names to Swift locations, attributes, listings and
//! open files. Every operation returns a `Result`; `crate::fuse` turns it
//! into a kernel reply, so everything here can be tested without a mount.

pub mod attr;
pub mod dir;
pub mod error;
pub mod inode;
pub mod listings;
pub mod prefetch;
pub mod reader;
pub mod source;
pub mod staging;
mod write;

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use log::{debug, warn};
use parking_lot::Mutex;

use crate::swift::headers::ObjectMeta;
use crate::swift::path::ContainerName;
use crate::swift::{SwiftClient, SwiftError};

use attr::{Attr, CacheTtls, Kind, Ownership};
use dir::{is_directory_marker, DirBuilder, DirEntry, FileInfo, Skipped, NAME_MAX};
use error::FsError;
use inode::{InodeTable, Location, ROOT_INO};
use listings::{Listing, ListingCache};
use prefetch::Prefetcher;
use reader::{ObjectReader, ReadConfig};
use source::SwiftObject;
use staging::StagingArea;
use write::{SharedStaged, StagedFiles};

/// The extended attribute of the mount root that returns request counters.
pub const STATS_XATTR: &str = "user.swiftmount.stats";

/// The Swift location shown at the mount root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Root {
    /// Every container of the account, as directories.
    Account,
    /// The objects of one container.
    Container(ContainerName),
}

#[derive(Clone, Debug)]
pub struct FsConfig {
    pub root: Root,
    pub owner: Ownership,
    pub ttls: CacheTtls,
    /// Entries per listing request: Swift's `container_listing_limit`.
    pub listing_limit: usize,
    pub read: ReadConfig,
    /// Reject every change with EROFS.
    pub read_only: bool,
    /// Directory in which files being written are staged before upload.
    pub staging_dir: PathBuf,
    /// Files larger than this many bytes are uploaded as Static Large
    /// Objects in segments of this size.
    pub segment_size: u64,
    /// Report `X-Object-Meta-Mtime` as the modification time, at the cost of
    /// one `HEAD` per file, since listings do not carry user metadata.
    pub use_meta_mtime: bool,
}

/// A name resolved to an inode, with how long the kernel may cache it.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub attr: Attr,
    pub ttl: Duration,
}

/// One entry of a `readdir` reply.
pub struct DirItem<'a> {
    /// The offset the kernel passes back to continue after this entry.
    pub next_offset: u64,
    pub name: &'a str,
    pub attr: Attr,
    pub ttl: Duration,
}

/// Filesystem totals for `statfs`, in 4 KiB blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsStats {
    pub blocks: u64,
    pub blocks_free: u64,
    pub files: u64,
    pub files_free: u64,
    pub block_size: u32,
}

/// Capacity reported when no quota is set: 1 PiB beyond what is used, since
/// Swift itself has no fixed size.
pub const UNLIMITED_FREE_BYTES: u64 = 1 << 50;

pub struct SwiftFs {
    client: Arc<SwiftClient>,
    config: FsConfig,
    inodes: Mutex<InodeTable>,
    listings: ListingCache,
    /// Names found missing, by `(parent, name)`, with when that was found.
    missing: Mutex<HashMap<(u64, String), Instant>>,
    open_files: Mutex<HashMap<u64, Arc<ObjectReader>>>,
    /// Worker threads and memory budget shared by every open file's prefetch.
    prefetcher: Arc<Prefetcher>,
    open_dirs: Mutex<HashMap<u64, Arc<Listing>>>,
    /// The ETag whose pages the kernel may still cache, by inode.
    cached_etags: Mutex<HashMap<u64, String>>,
    next_handle: AtomicU64,
    /// Skipped object names already logged, so each is reported once.
    reported: Mutex<HashSet<String>>,
    statfs_cache: Mutex<Option<(Instant, FsStats)>>,
    staging: StagingArea,
    /// Files open for writing, by inode.
    staged: StagedFiles,
    /// Write handles: the inode and its staged data.
    write_handles: Mutex<HashMap<u64, (u64, SharedStaged)>>,
    /// Files created here whose names a cached listing may not show yet,
    /// by `(parent, name)`.
    local_entries: Mutex<HashMap<(u64, String), u64>>,
}

impl SwiftFs {
    /// Creates the filesystem; fails only when the staging directory cannot
    /// be created.
    pub fn new(client: Arc<SwiftClient>, config: FsConfig) -> std::io::Result<SwiftFs> {
        let root = match &config.root {
            Root::Account => Location::Account,
            Root::Container(name) => Location::Prefix {
                container: name.as_str().to_string(),
                prefix: String::new(),
            },
        };
        let staging = StagingArea::new(&config.staging_dir)?;
        let prefetcher = Arc::new(Prefetcher::new(
            config.read.prefetch_threads,
            config.read.total_prefetch_max,
        ));
        Ok(SwiftFs {
            client,
            listings: ListingCache::new(config.ttls.dir),
            config,
            inodes: Mutex::new(InodeTable::new(root, SystemTime::now())),
            missing: Mutex::new(HashMap::new()),
            open_files: Mutex::new(HashMap::new()),
            prefetcher,
            open_dirs: Mutex::new(HashMap::new()),
            cached_etags: Mutex::new(HashMap::new()),
            next_handle: AtomicU64::new(1),
            reported: Mutex::new(HashSet::new()),
            statfs_cache: Mutex::new(None),
            staging,
            staged: Mutex::new(HashMap::new()),
            write_handles: Mutex::new(HashMap::new()),
            local_entries: Mutex::new(HashMap::new()),
        })
    }

    /// Uploads what is still staged and removes the staging directory if
    /// nothing is left in it. Called once at unmount.
    pub fn shutdown(&self) {
        let handles: Vec<u64> = self.write_handles.lock().keys().copied().collect();
        for handle in handles {
            if let Err(err) = self.flush(handle) {
                log::error!("at unmount, {}: {err}", self.describe_handle(handle));
            }
        }
        self.staging.remove_if_empty();
    }

    fn describe_handle(&self, handle: u64) -> String {
        match self.write_handles.lock().get(&handle) {
            Some((ino, _)) => self.describe(*ino),
            None => format!("handle {handle}"),
        }
    }

    pub fn client(&self) -> &SwiftClient {
        &self.client
    }

    /// `container/path` of an inode, for log lines.
    pub fn describe(&self, ino: u64) -> String {
        self.inodes
            .lock()
            .get(ino)
            .map(|inode| inode.location.display())
            .unwrap_or_else(|| format!("inode {ino}"))
    }

    // ----- name resolution -----

    /// Resolves `name` in directory `parent` and counts a kernel reference.
    pub fn lookup(&self, parent: u64, name: &OsStr) -> Result<Entry, FsError> {
        // Swift names are UTF-8, so another name cannot exist there.
        let name = name
            .to_str()
            .ok_or_else(|| FsError::NotFound(name.to_string_lossy().into_owned()))?;
        if name.len() > NAME_MAX {
            return Err(FsError::NameTooLong(name.to_string()));
        }
        let ino = self.resolve(parent, name)?;
        let entry = self.entry_of(ino)?;
        self.inodes.lock().add_lookup(ino);
        Ok(entry)
    }

    /// Finds the inode of `name` in `parent`: a file created here, else the
    /// cached listing, else requests to Swift.
    fn resolve(&self, parent: u64, name: &str) -> Result<u64, FsError> {
        if let Some(&ino) = self.local_entries.lock().get(&(parent, name.to_string())) {
            return Ok(ino);
        }
        let location = self.directory_location(parent)?;
        let ino = match self.listings.fresh(parent) {
            Some(listing) => {
                let entry = listing
                    .find(name)
                    .ok_or_else(|| FsError::NotFound(child_display(&location, name)))?;
                self.record_entry(parent, entry)?
            }
            None => self.probe(parent, &location, name)?,
        };
        self.confirm_size(ino)
    }

    /// Drops `count` kernel references to `ino`.
    pub fn forget(&self, ino: u64, count: u64) {
        self.inodes.lock().forget(ino, count);
        self.cached_etags.lock().remove(&ino);
    }

    pub fn getattr(&self, ino: u64) -> Result<Entry, FsError> {
        let (kind, stale) = {
            let inodes = self.inodes.lock();
            let inode = inodes.get(ino).ok_or(FsError::UnknownInode(ino))?;
            (
                inode.kind,
                inode.confirmed.elapsed() >= self.config.ttls.attr,
            )
        };
        if kind == Kind::File && stale && self.staged_of(ino).is_none() {
            self.refresh_file(ino)?;
        }
        self.entry_of(ino)
    }

    /// Finds `name` in `parent` without a listing: one request to tell a
    /// directory, and one `HEAD` for a file.
    fn probe(&self, parent: u64, location: &Location, name: &str) -> Result<u64, FsError> {
        let key = (parent, name.to_string());
        let display = child_display(location, name);
        if let Some(when) = self.missing.lock().get(&key) {
            if when.elapsed() < self.config.ttls.negative {
                return Err(FsError::NotFound(display));
            }
        }
        let found = match location {
            Location::Account => self.probe_container(name),
            Location::Prefix { container, prefix } => self.probe_object(container, prefix, name),
            Location::Object { .. } => return Err(FsError::NotDirectory(location.display())),
        };
        match found {
            Ok(Some(entry)) => self.record_entry(parent, &entry),
            Ok(None) | Err(FsError::Swift(SwiftError::NotFound { .. })) => {
                self.missing.lock().insert(key, Instant::now());
                Err(FsError::NotFound(display))
            }
            Err(error) => Err(error),
        }
    }

    fn probe_container(&self, name: &str) -> Result<Option<DirEntry>, FsError> {
        if ContainerName::new(name).is_err() {
            return Ok(None);
        }
        let meta = self.client.head_container(name)?;
        Ok(Some(DirEntry {
            name: name.to_string(),
            kind: Kind::Directory,
            file: None,
            mtime: meta.last_modified,
        }))
    }

    /// Finds `name` in a container directory. A directory wins over an
    /// object of the same name, so the listing under `name/` is requested first.
    fn probe_object(
        &self,
        container: &str,
        prefix: &str,
        name: &str,
    ) -> Result<Option<DirEntry>, FsError> {
        let dir_prefix = format!("{prefix}{name}/");
        let rows = self
            .client
            .list_objects(container, &dir_prefix, true, "", 1)?;
        if !rows.is_empty() {
            return Ok(Some(DirEntry {
                name: name.to_string(),
                kind: Kind::Directory,
                file: None,
                mtime: None,
            }));
        }
        let meta = self
            .client
            .head_object(container, &format!("{prefix}{name}"))?;
        if is_directory_marker(meta.content_type.as_deref(), meta.size) {
            return Ok(Some(DirEntry {
                name: name.to_string(),
                kind: Kind::Directory,
                file: None,
                mtime: meta.last_modified,
            }));
        }
        Ok(Some(DirEntry {
            name: name.to_string(),
            kind: Kind::File,
            file: Some(file_info_from_head(&meta, self.config.use_meta_mtime)),
            mtime: None,
        }))
    }

    /// Confirms with a `HEAD` the size of a file whose listed size could be
    /// a Dynamic Large Object's 0, and returns `ino` for chaining.
    fn confirm_size(&self, ino: u64) -> Result<u64, FsError> {
        let unconfirmed = {
            let inodes = self.inodes.lock();
            let inode = inodes.get(ino).ok_or(FsError::UnknownInode(ino))?;
            inode.file.as_ref().is_some_and(|file| !file.size_known)
        };
        if unconfirmed {
            self.refresh_file(ino)?;
        }
        Ok(ino)
    }

    /// Re-reads a file's attributes with a `HEAD`.
    fn refresh_file(&self, ino: u64) -> Result<(), FsError> {
        let location = self
            .inodes
            .lock()
            .get(ino)
            .map(|inode| inode.location.clone())
            .ok_or(FsError::UnknownInode(ino))?;
        let Location::Object { container, name } = &location else {
            return Ok(());
        };
        let meta = self.client.head_object(container, name)?;
        let mut inodes = self.inodes.lock();
        if let Some(inode) = inodes.get_mut(ino) {
            inode.file = Some(file_info_from_head(&meta, self.config.use_meta_mtime));
            inode.confirmed = Instant::now();
        }
        Ok(())
    }

    fn record_entry(&self, parent: u64, entry: &DirEntry) -> Result<u64, FsError> {
        let mut file = entry.file.clone();
        if self.config.use_meta_mtime {
            // Only a HEAD returns user metadata, so the row is marked unconfirmed.
            if let Some(file) = file.as_mut() {
                file.size_known = false;
            }
        }
        self.inodes
            .lock()
            .upsert_child(parent, &entry.name, entry.kind, file, entry.mtime)
            .ok_or(FsError::NotDirectory(format!("inode {parent}")))
    }

    fn directory_location(&self, ino: u64) -> Result<Location, FsError> {
        let inodes = self.inodes.lock();
        let inode = inodes.get(ino).ok_or(FsError::UnknownInode(ino))?;
        if inode.kind != Kind::Directory {
            return Err(FsError::NotDirectory(inode.location.display()));
        }
        Ok(inode.location.clone())
    }

    fn entry_of(&self, ino: u64) -> Result<Entry, FsError> {
        let (kind, size, mtime, size_known) = {
            let inodes = self.inodes.lock();
            let inode = inodes.get(ino).ok_or(FsError::UnknownInode(ino))?;
            match &inode.file {
                Some(file) => (
                    inode.kind,
                    file.size,
                    file.mtime.unwrap_or(inode.dir_mtime),
                    file.size_known,
                ),
                None => (inode.kind, 0, inode.dir_mtime, true),
            }
        };
        // A file being written has the size of its staged data. The inode
        // lock is released first: an upload holds the staged lock while its
        // PUT runs, and must not stall every other inode operation.
        let staged = self.staged.lock().get(&ino).cloned();
        let size = match staged {
            Some(staged) => staged.lock().size,
            None => size,
        };
        let attr = Attr::new(ino, kind, size, mtime, &self.config.owner);
        // An unconfirmed size must not be cached by the kernel.
        let ttl = if size_known {
            self.config.ttls.attr
        } else {
            Duration::ZERO
        };
        Ok(Entry { attr, ttl })
    }

    // ----- directories -----

    /// Snapshots the listing of `ino` for a sequence of `readdir` calls.
    pub fn opendir(&self, ino: u64) -> Result<u64, FsError> {
        let listing = self.with_local_entries(ino, self.listing(ino)?);
        let handle = self.next_handle.fetch_add(1, Ordering::Relaxed);
        self.open_dirs.lock().insert(handle, listing);
        Ok(handle)
    }

    pub fn releasedir(&self, handle: u64) {
        self.open_dirs.lock().remove(&handle);
    }

    /// Passes the entries from `offset` on to `add` until it returns `true`
    /// (the reply buffer is full). With `plus`, each entry passed counts as a
    /// kernel reference, as READDIRPLUS requires; `.` and `..` never do.
    pub fn readdir(
        &self,
        ino: u64,
        handle: u64,
        offset: u64,
        plus: bool,
        mut add: impl FnMut(DirItem<'_>) -> bool,
    ) -> Result<(), FsError> {
        let listing = self
            .open_dirs
            .lock()
            .get(&handle)
            .cloned()
            .ok_or(FsError::UnknownHandle(handle))?;
        let parent = self
            .inodes
            .lock()
            .get(ino)
            .map(|inode| inode.parent)
            .unwrap_or(ROOT_INO);

        let total = listing.entries.len() as u64 + 2;
        for index in offset..total {
            let next_offset = index + 1;
            if index < 2 {
                let (name, target) = if index == 0 {
                    (".", ino)
                } else {
                    ("..", parent)
                };
                let entry = self.entry_of(target).or_else(|_| self.entry_of(ino))?;
                if add(DirItem {
                    next_offset,
                    name,
                    attr: entry.attr,
                    ttl: entry.ttl,
                }) {
                    return Ok(());
                }
                continue;
            }
            let dir_entry = &listing.entries[(index - 2) as usize];
            let child = self.record_entry(ino, dir_entry)?;
            let entry = self.entry_of(child)?;
            if add(DirItem {
                next_offset,
                name: &dir_entry.name,
                attr: entry.attr,
                ttl: entry.ttl,
            }) {
                return Ok(());
            }
            if plus {
                self.inodes.lock().add_lookup(child);
            }
        }
        Ok(())
    }

    /// Adds to a listing the files created here that it does not show yet.
    fn with_local_entries(&self, dir: u64, listing: Arc<Listing>) -> Arc<Listing> {
        let local: Vec<(String, u64)> = self
            .local_entries
            .lock()
            .iter()
            .filter(|((parent, name), _)| *parent == dir && listing.find(name).is_none())
            .map(|((_, name), ino)| (name.clone(), *ino))
            .collect();
        if local.is_empty() {
            return listing;
        }
        let mut entries = listing.entries.clone();
        let inodes = self.inodes.lock();
        for (name, ino) in local {
            if let Some(inode) = inodes.get(ino) {
                entries.push(DirEntry {
                    name,
                    kind: inode.kind,
                    file: inode.file.clone(),
                    mtime: None,
                });
            }
        }
        Arc::new(Listing::new(entries))
    }

    /// Returns the listing of directory `ino`, from the cache or fetched page by page.
    fn listing(&self, ino: u64) -> Result<Arc<Listing>, FsError> {
        let location = self.directory_location(ino)?;
        self.listings.get_or_load(ino, || {
            let (entries, skipped) = self.fetch_entries(&location)?;
            self.report_skipped(&skipped);
            for entry in &entries {
                let known = self.inodes.lock().child(ino, &entry.name).is_some();
                if known {
                    self.record_entry(ino, entry)?;
                }
            }
            self.missing.lock().retain(|(parent, _), _| *parent != ino);
            Ok(Listing::new(entries))
        })
    }

    /// Lists every page of a directory, following `marker`. A page shorter
    /// than the limit is the last one, since Swift fills every page it can.
    fn fetch_entries(&self, location: &Location) -> Result<(Vec<DirEntry>, Vec<Skipped>), FsError> {
        let limit = self.config.listing_limit;
        let started = Instant::now();
        let mut pages = 0;
        let mut marker = String::new();
        let builder = match location {
            Location::Account => {
                let mut builder = DirBuilder::new("");
                loop {
                    let page = self.client.list_containers(&marker, limit)?;
                    pages += 1;
                    for container in &page {
                        builder.add_container(container);
                    }
                    match page.last() {
                        Some(last) if page.len() >= limit => marker = last.name.clone(),
                        _ => break,
                    }
                }
                builder
            }
            Location::Prefix { container, prefix } => {
                let mut builder = DirBuilder::new(prefix);
                loop {
                    let page = self
                        .client
                        .list_objects(container, prefix, true, &marker, limit)?;
                    pages += 1;
                    for row in &page {
                        builder.add_object_row(row);
                    }
                    match page.last() {
                        Some(last) if page.len() >= limit => marker = last.name().to_string(),
                        _ => break,
                    }
                }
                builder
            }
            Location::Object { .. } => return Err(FsError::NotDirectory(location.display())),
        };
        let (entries, skipped) = builder.finish();
        debug!(
            "listed {}: {} entries in {} pages, {} ms",
            location.display(),
            entries.len(),
            pages,
            started.elapsed().as_millis()
        );
        Ok((entries, skipped))
    }

    fn report_skipped(&self, skipped: &[Skipped]) {
        let mut reported = self.reported.lock();
        for row in skipped {
            if reported.insert(row.name.clone()) {
                warn!("object {:?} is not shown: {}", row.name, row.reason);
            }
        }
    }

    // ----- files -----

    /// Opens a file for reading and returns the handle and whether the
    /// kernel may keep pages cached from an earlier open (the ETag is the
    /// same as then).
    pub fn open(&self, ino: u64, write: bool, truncate: bool) -> Result<(u64, bool), FsError> {
        // Writers, and readers of a file being written, use the staged data.
        if write || self.staged_of(ino).is_some() {
            if self.inodes.lock().get(ino).map(|inode| inode.kind) == Some(Kind::Directory) {
                return Err(FsError::IsDirectory(self.describe(ino)));
            }
            return Ok((self.open_for_write(ino, truncate)?, false));
        }
        let (location, kind, stale) = {
            let inodes = self.inodes.lock();
            let inode = inodes.get(ino).ok_or(FsError::UnknownInode(ino))?;
            let unconfirmed = inode.file.as_ref().is_some_and(|file| !file.size_known);
            let stale = inode.confirmed.elapsed() >= self.config.ttls.attr || unconfirmed;
            (inode.location.clone(), inode.kind, stale)
        };
        if kind == Kind::Directory {
            return Err(FsError::IsDirectory(location.display()));
        }
        if stale {
            self.refresh_file(ino)?;
        }
        let Location::Object { container, name } = location else {
            return Err(FsError::IsDirectory(location.display()));
        };
        let file = self
            .inodes
            .lock()
            .get(ino)
            .and_then(|inode| inode.file.clone())
            .ok_or(FsError::UnknownInode(ino))?;

        let source = SwiftObject::new(self.client.clone(), container, name, pinned_etag(&file));
        let reader = ObjectReader::new(
            Arc::new(source),
            file.size,
            self.config.read,
            self.prefetcher.clone(),
        );
        let handle = self.next_handle.fetch_add(1, Ordering::Relaxed);
        self.open_files.lock().insert(handle, Arc::new(reader));

        let keep_cache = match &file.etag {
            Some(etag) => {
                let mut cached = self.cached_etags.lock();
                let same = cached.get(&ino) == Some(etag);
                cached.insert(ino, etag.clone());
                same
            }
            None => false,
        };
        Ok((handle, keep_cache))
    }

    pub fn read(&self, handle: u64, offset: u64, size: u32) -> Result<Bytes, FsError> {
        if self.is_write_handle(handle) {
            return self.read_staged(handle, offset, size);
        }
        let reader = self
            .open_files
            .lock()
            .get(&handle)
            .cloned()
            .ok_or(FsError::UnknownHandle(handle))?;
        reader.read(offset, size)
    }

    pub fn release(&self, handle: u64) {
        if self.open_files.lock().remove(&handle).is_none() {
            self.release_write(handle);
        }
    }

    // ----- filesystem-wide -----

    /// Usage from the account (or container) `HEAD`, cached for the
    /// attribute TTL. Totals are the quota when one is set, else usage plus
    /// `UNLIMITED_FREE_BYTES`.
    pub fn statfs(&self) -> Result<FsStats, FsError> {
        if let Some((when, stats)) = *self.statfs_cache.lock() {
            if when.elapsed() < self.config.ttls.attr {
                return Ok(stats);
            }
        }
        let (used, objects, quota) = match &self.config.root {
            Root::Account => {
                let meta = self.client.head_account()?;
                (meta.bytes_used, meta.object_count, meta.quota_bytes)
            }
            Root::Container(name) => {
                let meta = self.client.head_container(name.as_str())?;
                (meta.bytes_used, meta.object_count, meta.quota_bytes)
            }
        };
        let stats = fs_stats(used, objects, quota);
        *self.statfs_cache.lock() = Some((Instant::now(), stats));
        Ok(stats)
    }

    /// Extended attributes: only the mount root has one, the request counters.
    pub fn getxattr(&self, ino: u64, name: &OsStr) -> Result<Vec<u8>, FsError> {
        if ino == ROOT_INO && name == STATS_XATTR {
            return Ok(self.stats_line().into_bytes());
        }
        Err(FsError::NoAttribute(name.to_string_lossy().into_owned()))
    }

    /// Names of the extended attributes of `ino`, each NUL-terminated.
    pub fn listxattr(&self, ino: u64) -> Vec<u8> {
        if ino == ROOT_INO {
            return format!("{STATS_XATTR}\0").into_bytes();
        }
        Vec::new()
    }

    /// Renders the request counters as one line, also logged at unmount.
    pub fn stats_line(&self) -> String {
        self.client
            .stats()
            .render(self.client.tokens().authentications())
    }

    /// Number of inodes currently known, for diagnostics.
    pub fn inode_count(&self) -> usize {
        self.inodes.lock().len()
    }
}

/// Returns the ETag to send as `If-Match` when reading. Swift 2.30 compares it with
/// the whole object's ETag for plain objects and for both kinds of large
/// object, which is the ETag a `HEAD` returns (and, for Static Large Objects,
/// the listing's `slo_etag`), so every kind can be pinned.
fn pinned_etag(file: &FileInfo) -> Option<String> {
    file.etag.clone()
}

/// File attributes from a `HEAD`. With `use_meta_mtime`, the modification
/// time is `X-Object-Meta-Mtime` when the object has one.
fn file_info_from_head(meta: &ObjectMeta, use_meta_mtime: bool) -> FileInfo {
    let mtime = if use_meta_mtime {
        meta.meta_mtime.or(meta.last_modified)
    } else {
        meta.last_modified
    };
    FileInfo {
        size: meta.size,
        mtime,
        etag: meta.etag.clone(),
        content_type: meta.content_type.clone(),
        size_known: true,
    }
}

fn child_display(location: &Location, name: &str) -> String {
    match location {
        Location::Account => name.to_string(),
        other => format!("{}{}", other.display(), name),
    }
}

fn fs_stats(used: u64, objects: u64, quota: Option<u64>) -> FsStats {
    const BLOCK: u64 = 4096;
    let total_bytes = match quota {
        Some(quota) => quota.max(used),
        None => used.saturating_add(UNLIMITED_FREE_BYTES),
    };
    let free_bytes = total_bytes - used;
    FsStats {
        blocks: total_bytes / BLOCK,
        blocks_free: free_bytes / BLOCK,
        files: objects.saturating_add(1 << 32),
        files_free: 1 << 32,
        block_size: BLOCK as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statfs_uses_quota() {
        let stats = fs_stats(15 * 1024 * 1024, 2, Some(100 * 1024 * 1024));
        assert_eq!(stats.blocks * 4096, 100 * 1024 * 1024);
        assert_eq!(stats.blocks_free * 4096, 85 * 1024 * 1024);
    }

    #[test]
    fn statfs_without_quota_is_usage_plus_a_pebibyte() {
        let stats = fs_stats(8192, 1, None);
        assert_eq!(stats.blocks * 4096, 8192 + UNLIMITED_FREE_BYTES);
        assert_eq!(stats.blocks_free * 4096, UNLIMITED_FREE_BYTES);
    }

    #[test]
    fn statfs_over_quota_has_no_free_space() {
        let stats = fs_stats(200, 1, Some(100));
        assert_eq!(stats.blocks_free, 0);
    }
}
