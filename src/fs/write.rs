//! Operations that change the filesystem: create, write, truncate, set
//! times, mkdir, unlink, rmdir and rename.
//!
//! Data written goes to a staging file (see `staging`) and is uploaded with
//! one `PUT` at `flush` (every `close`) and `fsync`, so a failed upload is
//! returned by `close` or `fsync`. Names change through `PUT` of directory
//! markers, server-side `COPY` and `DELETE`.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use log::{debug, error, info, warn};
use md5::Digest;
use parking_lot::Mutex;

use crate::swift::client::RequestBody;
use crate::swift::path::{ContainerName, MAX_OBJECT_NAME};
use crate::swift::SwiftError;

use super::attr::Kind;
use super::dir::{is_directory_marker, FileInfo, NAME_MAX};
use super::error::FsError;
use super::inode::Location;
use super::staging::{guess_content_type, unix_seconds, Staged};
use super::{Entry, SwiftFs};

/// Segments one Static Large Object may have (Swift's default
/// `max_manifest_segments`), which bounds the size of a file written here.
const MAX_SEGMENTS: u64 = 1000;

/// Segment names longer than Swift's 1024-byte object name limit are avoided
/// by naming segments after the MD5 of object names longer than this.
const MAX_NAME_IN_SEGMENT: usize = 900;

/// Bytes fetched per request when an existing object is copied into a
/// staging file before being modified in place.
const DOWNLOAD_CHUNK: u64 = 8 * 1024 * 1024;

/// The directory-marker content type.
const DIRECTORY_TYPE: &str = "application/directory";

pub(super) type SharedStaged = Arc<Mutex<Staged>>;

impl SwiftFs {
    fn check_writable(&self, what: &str) -> Result<(), FsError> {
        if self.config.read_only {
            return Err(FsError::ReadOnly(what.to_string()));
        }
        Ok(())
    }

    /// Checks a name for a new entry: valid UTF-8 (Swift requires it) and at
    /// most 255 bytes.
    fn new_name<'a>(&self, name: &'a OsStr) -> Result<&'a str, FsError> {
        let text = name
            .to_str()
            .ok_or_else(|| FsError::InvalidName(name.to_string_lossy().into_owned()))?;
        if text.len() > NAME_MAX {
            return Err(FsError::NameTooLong(text.to_string()));
        }
        Ok(text)
    }

    /// Returns the container and full object name for a new file or directory
    /// marker `name` in `parent`. Files cannot live at the account root.
    fn object_location(
        &self,
        parent: u64,
        name: &str,
        suffix: &str,
    ) -> Result<(String, String), FsError> {
        match self.directory_location(parent)? {
            Location::Account => Err(FsError::NotPermitted(format!(
                "{name}: only directories (containers) can be created at the account root"
            ))),
            Location::Prefix { container, prefix } => {
                let object = format!("{prefix}{name}{suffix}");
                if object.len() > MAX_OBJECT_NAME {
                    return Err(FsError::NameTooLong(format!("{container}/{object}")));
                }
                Ok((container, object))
            }
            Location::Object { container, name } => {
                Err(FsError::NotDirectory(format!("{container}/{name}")))
            }
        }
    }

    /// Notes a change in directory `parent`: its cached listing is dropped,
    /// and the name is no longer cached as missing.
    fn directory_changed(&self, parent: u64, name: &str) {
        self.listings.invalidate(parent);
        self.missing.lock().remove(&(parent, name.to_string()));
    }

    // ----- files -----

    /// Creates an empty file and opens it for writing. The object is
    /// uploaded at the first `flush`, so `touch` creates a 0-byte object.
    pub fn create(&self, parent: u64, name: &OsStr) -> Result<(Entry, u64), FsError> {
        let name = self.new_name(name)?;
        self.check_writable(name)?;
        let (container, object) = self.object_location(parent, name, "")?;
        let staged = self.new_staged(container, object, guess_content_type(name), Vec::new())?;
        staged.lock().dirty = true;

        let info = FileInfo {
            size: 0,
            mtime: Some(SystemTime::now()),
            etag: None,
            content_type: Some(staged.lock().content_type.clone()),
            size_known: true,
        };
        let ino = self
            .inodes
            .lock()
            .upsert_child(parent, name, Kind::File, Some(info), None)
            .ok_or_else(|| FsError::NotDirectory(format!("inode {parent}")))?;
        self.staged.lock().insert(ino, staged.clone());
        self.local_entries
            .lock()
            .insert((parent, name.to_string()), ino);
        self.missing.lock().remove(&(parent, name.to_string()));
        self.inodes.lock().add_lookup(ino);

        let handle = self.add_write_handle(ino, staged);
        Ok((self.entry_of(ino)?, handle))
    }

    /// Opens an existing file for writing. Without `truncate`, its content is
    /// downloaded first, since Swift cannot change part of an object.
    pub(super) fn open_for_write(&self, ino: u64, truncate: bool) -> Result<u64, FsError> {
        let existing = self.staged.lock().get(&ino).cloned();
        if let Some(staged) = existing {
            {
                let mut file = staged.lock();
                file.handles += 1;
                if truncate && file.size > 0 {
                    file.truncate(0)
                        .map_err(|source| staging_error(&file, source))?;
                }
            }
            return Ok(self.add_write_handle(ino, staged));
        }

        let (container, object) = self.object_of(ino)?;
        self.check_writable(&format!("{container}/{object}"))?;
        let meta = self.client.head_object(&container, &object)?;
        let content_type = meta
            .content_type
            .clone()
            .unwrap_or_else(|| guess_content_type(&object));
        let staged = self.new_staged(
            container.clone(),
            object.clone(),
            content_type,
            meta.user_metadata.clone(),
        )?;
        {
            let mut file = staged.lock();
            if truncate {
                file.dirty = meta.size > 0;
            } else {
                self.download_into(&mut file, meta.size, meta.etag.as_deref())?;
            }
        }
        self.staged.lock().insert(ino, staged.clone());
        Ok(self.add_write_handle(ino, staged))
    }

    /// Copies an object into its staging file, pinned to one version.
    fn download_into(
        &self,
        file: &mut Staged,
        size: u64,
        etag: Option<&str>,
    ) -> Result<(), FsError> {
        let mut offset = 0;
        while offset < size {
            let end = (offset + DOWNLOAD_CHUNK).min(size);
            let data = self
                .client
                .get_range(&file.container, &file.object, offset, end, etag)?;
            if data.is_empty() {
                break;
            }
            file.write_at(offset, &data)
                .map_err(|source| staging_error(file, source))?;
            offset += data.len() as u64;
        }
        file.dirty = false;
        Ok(())
    }

    fn new_staged(
        &self,
        container: String,
        object: String,
        content_type: String,
        user_metadata: Vec<(String, String)>,
    ) -> Result<SharedStaged, FsError> {
        let (file, path) = self
            .staging
            .create_file()
            .map_err(|source| FsError::Staging {
                path: format!("{container}/{object}"),
                source,
            })?;
        Ok(Arc::new(Mutex::new(Staged {
            container,
            object,
            file,
            path,
            size: 0,
            dirty: false,
            content_type,
            user_metadata,
            mtime: None,
            handles: 1,
            detached: false,
        })))
    }

    fn add_write_handle(&self, ino: u64, staged: SharedStaged) -> u64 {
        let handle = self
            .next_handle
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.write_handles.lock().insert(handle, (ino, staged));
        handle
    }

    fn write_handle(&self, handle: u64) -> Result<(u64, SharedStaged), FsError> {
        self.write_handles
            .lock()
            .get(&handle)
            .cloned()
            .ok_or(FsError::UnknownHandle(handle))
    }

    /// Returns `true` if `handle` is a write handle.
    pub fn is_write_handle(&self, handle: u64) -> bool {
        self.write_handles.lock().contains_key(&handle)
    }

    pub fn write(&self, handle: u64, offset: u64, data: &[u8]) -> Result<u32, FsError> {
        let (_, staged) = self.write_handle(handle)?;
        let mut file = staged.lock();
        let end = offset + data.len() as u64;
        if end > self.max_file_size() {
            return Err(FsError::TooLarge(format!(
                "{}/{}",
                file.container, file.object
            )));
        }
        file.write_at(offset, data)
            .map_err(|source| staging_error(&file, source))?;
        Ok(data.len() as u32)
    }

    /// Reads from the staged data of a write handle (files opened O_RDWR).
    pub fn read_staged(&self, handle: u64, offset: u64, size: u32) -> Result<Bytes, FsError> {
        let (_, staged) = self.write_handle(handle)?;
        let file = staged.lock();
        let data = file
            .read_at(offset, size)
            .map_err(|source| staging_error(&file, source))?;
        Ok(Bytes::from(data))
    }

    /// Uploads the file of `handle` if it changed; called on every `close`
    /// (flush) and on `fsync`.
    pub fn flush(&self, handle: u64) -> Result<(), FsError> {
        let Ok((ino, staged)) = self.write_handle(handle) else {
            return Ok(()); // a read handle: nothing to upload
        };
        self.upload(ino, &staged)
    }

    /// Uploads staged data with one `PUT` carrying the MD5 as `ETag`. On
    /// failure the data stays in the staging file, whose path is logged.
    fn upload(&self, ino: u64, staged: &SharedStaged) -> Result<(), FsError> {
        let mut file = staged.lock();
        if !file.dirty || file.detached {
            return Ok(());
        }
        let display = format!("{}/{}", file.container, file.object);
        let started = Instant::now();
        let result = if file.size > self.config.segment_size {
            self.upload_segments(&file)
        } else {
            self.upload_whole(&file)
        };
        let etag = match result {
            Ok(etag) => etag,
            Err(err) => {
                error!(
                    "upload of {display} ({} bytes) failed: {err}; the data is kept in {}",
                    file.size,
                    file.path.display()
                );
                return Err(err);
            }
        };
        file.dirty = false;
        debug!(
            "uploaded {display}: {} bytes in {} ms",
            file.size,
            started.elapsed().as_millis()
        );

        let mtime = file.mtime.unwrap_or_else(SystemTime::now);
        let info = FileInfo {
            size: file.size,
            mtime: Some(mtime),
            etag: Some(etag),
            content_type: Some(file.content_type.clone()),
            size_known: true,
        };
        drop(file);
        let parent = {
            let mut inodes = self.inodes.lock();
            inodes.get_mut(ino).map(|inode| {
                inode.file = Some(info);
                inode.confirmed = Instant::now();
                inode.parent
            })
        };
        self.cached_etags.lock().remove(&ino);
        if let Some(parent) = parent {
            self.listings.invalidate(parent);
        }
        Ok(())
    }

    /// Uploads staged data with one `PUT`; returns its ETag.
    fn upload_whole(&self, file: &Staged) -> Result<String, FsError> {
        let etag = file
            .md5_hex()
            .map_err(|source| staging_error(file, source))?;
        let headers = file.upload_headers(Some(etag.clone()));
        let body = RequestBody::File {
            path: file.path.clone(),
            offset: 0,
            len: file.size,
        };
        self.client
            .put_object(&file.container, &file.object, body, headers)?;
        Ok(etag)
    }

    /// Uploads staged data as a Static Large Object: segments of
    /// `segment_size` bytes in `<container>_segments`, named like
    /// python-swiftclient's (`<object>/slo/<time>/<size>/<segment size>/<index>`),
    /// then the manifest. Returns the object's ETag, which for a Static Large
    /// Object is the MD5 of its segments' MD5s.
    // NOTE: segments of an object that is later overwritten or deleted stay
    // in the segment container.
    fn upload_segments(&self, file: &Staged) -> Result<String, FsError> {
        let segment_size = self.config.segment_size;
        let segment_container = format!("{}_segments", file.container);
        self.client.put_container(&segment_container)?;

        let base = if file.object.len() > MAX_NAME_IN_SEGMENT {
            format!("{:x}", md5::Md5::digest(file.object.as_bytes()))
        } else {
            file.object.clone()
        };

        let stamp = unix_seconds(SystemTime::now());
        let count = file.size.div_ceil(segment_size);
        let mut segments = Vec::new();
        let mut manifest_hash = md5::Md5::new();
        for index in 0..count {
            let offset = index * segment_size;
            let len = segment_size.min(file.size - offset);
            let name = format!("{base}/slo/{stamp}/{}/{segment_size}/{index:08}", file.size);
            let etag = file
                .md5_range(offset, len)
                .map_err(|source| staging_error(file, source))?;
            let body = RequestBody::File {
                path: file.path.clone(),
                offset,
                len,
            };
            let headers = vec![("etag".to_string(), etag.clone())];
            self.client
                .put_object(&segment_container, &name, body, headers)?;
            manifest_hash.update(etag.as_bytes());
            segments.push((format!("/{segment_container}/{name}"), etag, len));
        }

        let headers = file.upload_headers(None);
        self.client
            .put_slo_manifest(&file.container, &file.object, &segments, headers)?;
        info!(
            "uploaded {}/{} as a Static Large Object of {count} segments",
            file.container, file.object
        );
        Ok(format!("{:x}", manifest_hash.finalize()))
    }

    /// Returns the largest file size that can be written: `MAX_SEGMENTS` segments.
    fn max_file_size(&self) -> u64 {
        self.config.segment_size.saturating_mul(MAX_SEGMENTS)
    }

    /// Closes a write handle. The last handle of a file uploads what is still
    /// pending and removes the staging file, unless the upload failed: then
    /// the file stays and its path is logged, so the data is not lost.
    pub fn release_write(&self, handle: u64) {
        let Some((ino, staged)) = self.write_handles.lock().remove(&handle) else {
            return;
        };
        let last = {
            let mut file = staged.lock();
            file.handles = file.handles.saturating_sub(1);
            file.handles == 0
        };
        if !last {
            return;
        }
        let _ = self.upload(ino, &staged);
        let file = staged.lock();
        if file.dirty && !file.detached {
            error!(
                "{}/{} was closed with changes that could not be uploaded; they are kept in {}",
                file.container,
                file.object,
                file.path.display()
            );
        } else if let Err(err) = std::fs::remove_file(&file.path) {
            warn!("cannot remove staging file {}: {err}", file.path.display());
        }
        drop(file);
        self.staged.lock().remove(&ino);
        let mut local = self.local_entries.lock();
        local.retain(|_, local_ino| *local_ino != ino);
    }

    /// Staged data of a file, if it is open for writing.
    pub(super) fn staged_of(&self, ino: u64) -> Option<SharedStaged> {
        self.staged.lock().get(&ino).cloned()
    }

    // ----- attributes -----

    /// Changes a file's size (`truncate`) and modification time (`touch`).
    /// Mode, owner and access time are not stored in Swift and are ignored.
    pub fn setattr(
        &self,
        ino: u64,
        size: Option<u64>,
        mtime: Option<SystemTime>,
    ) -> Result<Entry, FsError> {
        let kind = self
            .inodes
            .lock()
            .get(ino)
            .map(|inode| inode.kind)
            .ok_or(FsError::UnknownInode(ino))?;
        if kind == Kind::Directory {
            if size.is_some() {
                return Err(FsError::IsDirectory(self.describe(ino)));
            }
            return self.entry_of(ino);
        }
        if let Some(size) = size {
            self.truncate(ino, size)?;
        }
        if let Some(mtime) = mtime {
            self.set_mtime(ino, mtime)?;
        }
        self.entry_of(ino)
    }

    fn truncate(&self, ino: u64, size: u64) -> Result<(), FsError> {
        self.check_writable(&self.describe(ino))?;
        if size > self.max_file_size() {
            return Err(FsError::TooLarge(self.describe(ino)));
        }
        if let Some(staged) = self.staged_of(ino) {
            let mut file = staged.lock();
            return file
                .truncate(size)
                .map_err(|source| staging_error(&file, source));
        }
        // No open handle: stage, truncate and upload at once.
        let handle = self.open_for_write(ino, size == 0)?;
        let result = self.write_handle(handle).and_then(|(_, staged)| {
            {
                let mut file = staged.lock();
                if file.size != size || size == 0 {
                    file.truncate(size)
                        .map_err(|source| staging_error(&file, source))?;
                }
            }
            self.upload(ino, &staged)
        });
        self.release_write(handle);
        result
    }

    /// Sets the modification time, stored as `X-Object-Meta-Mtime`. A `POST`
    /// replaces all user metadata, so the existing metadata, content type
    /// and DLO manifest are sent again; the data is never rewritten.
    fn set_mtime(&self, ino: u64, mtime: SystemTime) -> Result<(), FsError> {
        if let Some(staged) = self.staged_of(ino) {
            let mut file = staged.lock();
            file.mtime = Some(mtime);
            // Pending data carries the time in its upload. Clean staged data
            // (the kernel releases handles after close returns) matches the
            // object in Swift, which needs the POST below.
            if file.dirty {
                drop(file);
                self.set_local_mtime(ino, mtime);
                return Ok(());
            }
        }
        let (container, object) = self.object_of(ino)?;
        self.check_writable(&format!("{container}/{object}"))?;
        let meta = self.client.head_object(&container, &object)?;
        let mut headers: Vec<(String, String)> = meta
            .user_metadata
            .into_iter()
            .filter(|(name, _)| name != "x-object-meta-mtime")
            .collect();
        headers.push(("x-object-meta-mtime".to_string(), unix_seconds(mtime)));
        if let Some(content_type) = meta.content_type {
            headers.push(("content-type".to_string(), content_type));
        }
        if let Some(manifest) = meta.dlo_manifest {
            headers.push(("x-object-manifest".to_string(), manifest));
        }
        self.client.post_object(&container, &object, headers)?;
        self.set_local_mtime(ino, mtime);
        Ok(())
    }

    fn set_local_mtime(&self, ino: u64, mtime: SystemTime) {
        if let Some(file) = self
            .inodes
            .lock()
            .get_mut(ino)
            .and_then(|inode| inode.file.as_mut())
        {
            file.mtime = Some(mtime);
        }
    }

    fn object_of(&self, ino: u64) -> Result<(String, String), FsError> {
        let inodes = self.inodes.lock();
        let inode = inodes.get(ino).ok_or(FsError::UnknownInode(ino))?;
        match &inode.location {
            Location::Object { container, name } => Ok((container.clone(), name.clone())),
            other => Err(FsError::IsDirectory(other.display())),
        }
    }

    // ----- names -----

    /// Creates a container at the account root, or a directory marker (a
    /// zero-byte `name/` object of type `application/directory`) elsewhere,
    /// so that the empty directory persists.
    pub fn mkdir(&self, parent: u64, name: &OsStr) -> Result<Entry, FsError> {
        let name = self.new_name(name)?;
        self.check_writable(name)?;
        if self.resolve(parent, name).is_ok() {
            return Err(FsError::Exists(name.to_string()));
        }
        match self.directory_location(parent)? {
            Location::Account => {
                ContainerName::new(name)
                    .map_err(|err| FsError::InvalidName(format!("{name}: {err}")))?;
                self.client.put_container(name)?;
                info!("created container {name}");
            }
            _ => {
                let (container, marker) = self.object_location(parent, name, "/")?;
                let headers = vec![("content-type".to_string(), DIRECTORY_TYPE.to_string())];
                self.client.put_object(
                    &container,
                    &marker,
                    RequestBody::Bytes(Bytes::new()),
                    headers,
                )?;
            }
        }
        self.directory_changed(parent, name);
        let ino = self
            .inodes
            .lock()
            .upsert_child(parent, name, Kind::Directory, None, Some(SystemTime::now()))
            .ok_or_else(|| FsError::NotDirectory(format!("inode {parent}")))?;
        self.inodes.lock().add_lookup(ino);
        self.entry_of(ino)
    }

    pub fn unlink(&self, parent: u64, name: &OsStr) -> Result<(), FsError> {
        let name = self.new_name(name)?;
        self.check_writable(name)?;
        let ino = self.resolve(parent, name)?;
        let (container, object) = self.object_of(ino)?;
        let staged = self.staged_of(ino);
        match self.client.delete_object(&container, &object) {
            // A 404 means the object is gone: deleted by an earlier attempt
            // whose response was lost, by another client, or (a file created
            // here and not uploaded yet) never stored.
            Ok(()) | Err(SwiftError::NotFound { .. }) => {}
            Err(err) => return Err(err.into()),
        }
        if let Some(staged) = staged {
            staged.lock().detached = true;
        }
        self.forget_name(parent, name);
        Ok(())
    }

    pub fn rmdir(&self, parent: u64, name: &OsStr) -> Result<(), FsError> {
        let name = self.new_name(name)?;
        self.check_writable(name)?;
        let ino = self.resolve(parent, name)?;
        let location = self.directory_location(ino)?;
        if self.local_entries.lock().keys().any(|(dir, _)| *dir == ino) {
            return Err(FsError::NotEmpty(location.display()));
        }
        match &location {
            Location::Prefix { container, prefix } if prefix.is_empty() => {
                self.client
                    .delete_container(container)
                    .map_err(|err| match err {
                        SwiftError::Conflict { .. } => FsError::NotEmpty(container.clone()),
                        other => other.into(),
                    })?;
                info!("deleted container {container}");
            }
            Location::Prefix { container, prefix } => {
                let rows = self.client.list_objects(container, prefix, false, "", 2)?;
                if rows.iter().any(|row| row.name() != prefix) {
                    return Err(FsError::NotEmpty(location.display()));
                }
                self.delete_markers(container, prefix)?;
            }
            other => return Err(FsError::NotDirectory(other.display())),
        }
        self.forget_name(parent, name);
        Ok(())
    }

    /// Deletes the markers of the directory `prefix` (`dir/`, and `dir` if it
    /// is a marker object). Missing markers are fine.
    fn delete_markers(&self, container: &str, prefix: &str) -> Result<(), FsError> {
        for marker in [prefix, prefix.trim_end_matches('/')] {
            if marker != prefix {
                match self.client.head_object(container, marker) {
                    Ok(meta) if is_directory_marker(meta.content_type.as_deref(), meta.size) => {}
                    Ok(_) | Err(SwiftError::NotFound { .. }) => continue,
                    Err(err) => return Err(err.into()),
                }
            }
            match self.client.delete_object(container, marker) {
                Ok(()) | Err(SwiftError::NotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(())
    }

    fn forget_name(&self, parent: u64, name: &str) {
        self.inodes.lock().remove_child(parent, name);
        self.local_entries
            .lock()
            .remove(&(parent, name.to_string()));
        self.listings.invalidate(parent);
        self.missing
            .lock()
            .insert((parent, name.to_string()), Instant::now());
    }

    /// Renames with server-side `COPY` and `DELETE`. A directory is moved
    /// object by object: all copies first, so a failure is rolled back and
    /// reported, then the deletes.
    pub fn rename(
        &self,
        parent: u64,
        name: &OsStr,
        new_parent: u64,
        new_name: &OsStr,
        no_replace: bool,
    ) -> Result<(), FsError> {
        let name = self.new_name(name)?;
        let new_name = self.new_name(new_name)?;
        self.check_writable(name)?;
        let ino = self.resolve(parent, name)?;
        let (kind, source) = {
            let inodes = self.inodes.lock();
            let inode = inodes.get(ino).ok_or(FsError::UnknownInode(ino))?;
            (inode.kind, inode.location.clone())
        };
        let destination_dir = self.directory_location(new_parent)?;
        if matches!(destination_dir, Location::Account)
            || matches!(&source, Location::Prefix { prefix, .. } if prefix.is_empty())
        {
            return Err(FsError::CrossDevice(source.display()));
        }
        let existing = match self.resolve(new_parent, new_name) {
            Ok(existing) => Some(existing),
            Err(FsError::NotFound(_)) => None,
            Err(err) => return Err(err),
        };
        if existing == Some(ino) {
            return Ok(());
        }
        if existing.is_some() && no_replace {
            return Err(FsError::Exists(new_name.to_string()));
        }
        let destination = destination_dir
            .child(new_name, kind)
            .ok_or_else(|| FsError::NotDirectory(destination_dir.display()))?;

        match (source, destination) {
            (
                Location::Object {
                    container,
                    name: object,
                },
                Location::Object {
                    container: new_container,
                    name: new_object,
                },
            ) => {
                if let Some(existing) = existing {
                    if self.inodes.lock().get(existing).map(|inode| inode.kind)
                        == Some(Kind::Directory)
                    {
                        return Err(FsError::IsDirectory(format!(
                            "{new_container}/{new_object}"
                        )));
                    }
                }
                if let Some(staged) = self.staged_of(ino) {
                    self.upload(ino, &staged)?;
                }
                self.move_object(
                    (&container, &object),
                    (&new_container, &new_object),
                    name,
                    new_name,
                )?;
                if let Some(staged) = self.staged_of(ino) {
                    let mut file = staged.lock();
                    file.container = new_container.clone();
                    file.object = new_object.clone();
                }
            }
            (
                Location::Prefix { container, prefix },
                Location::Prefix {
                    container: new_container,
                    prefix: new_prefix,
                },
            ) => {
                if let Some(existing) = existing {
                    self.check_empty_directory(existing)?;
                }
                self.move_directory(&container, &prefix, &new_container, &new_prefix)?;
            }
            (source, _) => return Err(FsError::NotPermitted(source.display())),
        }

        self.inodes.lock().move_inode(ino, new_parent, new_name);
        {
            let mut local = self.local_entries.lock();
            if local.remove(&(parent, name.to_string())).is_some() {
                local.insert((new_parent, new_name.to_string()), ino);
            }
        }
        self.listings.invalidate(parent);
        self.listings.invalidate(new_parent);
        self.missing
            .lock()
            .insert((parent, name.to_string()), Instant::now());
        self.missing
            .lock()
            .remove(&(new_parent, new_name.to_string()));
        Ok(())
    }

    fn check_empty_directory(&self, ino: u64) -> Result<(), FsError> {
        match self.directory_location(ino) {
            Ok(Location::Prefix { container, prefix }) => {
                let rows = self
                    .client
                    .list_objects(&container, &prefix, false, "", 2)?;
                if rows.iter().any(|row| row.name() != prefix) {
                    return Err(FsError::NotEmpty(format!("{container}/{prefix}")));
                }
                self.delete_markers(&container, &prefix)
            }
            Ok(other) => Err(FsError::NotDirectory(other.display())),
            Err(FsError::NotDirectory(path)) => Err(FsError::NotDirectory(path)),
            Err(err) => Err(err),
        }
    }

    /// Copies one object (a large object's manifest, not its content) and
    /// deletes the source. Metadata travels with the copy. The content type
    /// follows the new name's extension when the old type was only a guess
    /// from the old name (as when `sed -i` renames its temporary file).
    fn move_object(
        &self,
        source: (&str, &str),
        destination: (&str, &str),
        old_name: &str,
        new_name: &str,
    ) -> Result<(), FsError> {
        let meta = self.client.head_object(source.0, source.1)?;
        let mut headers = Vec::new();
        if let Some(content_type) =
            renamed_content_type(meta.content_type.as_deref(), old_name, new_name)
        {
            headers.push(("content-type".to_string(), content_type));
        }
        self.client
            .copy_object(source, destination, true, headers)?;
        self.client
            .delete_object(source.0, source.1)
            .map_err(|err| {
                error!(
                    "renamed {}/{} to {}/{} but could not delete the source: {err}",
                    source.0, source.1, destination.0, destination.1
                );
                FsError::from(err)
            })
    }

    fn move_directory(
        &self,
        container: &str,
        prefix: &str,
        new_container: &str,
        new_prefix: &str,
    ) -> Result<(), FsError> {
        let names = self.all_object_names(container, prefix)?;
        let mut moves: Vec<(String, String)> = names
            .into_iter()
            .map(|name| {
                let target = format!("{new_prefix}{}", &name[prefix.len()..]);
                (name, target)
            })
            .collect();
        let bare_marker = prefix.trim_end_matches('/');
        match self.client.head_object(container, bare_marker) {
            Ok(meta) if is_directory_marker(meta.content_type.as_deref(), meta.size) => {
                moves.push((
                    bare_marker.to_string(),
                    new_prefix.trim_end_matches('/').to_string(),
                ));
            }
            Ok(_) | Err(SwiftError::NotFound { .. }) => {}
            Err(err) => return Err(err.into()),
        }
        if moves
            .iter()
            .any(|(_, target)| target.len() > MAX_OBJECT_NAME)
        {
            return Err(FsError::NameTooLong(format!(
                "{new_container}/{new_prefix}"
            )));
        }

        let mut copied: Vec<&str> = Vec::new();
        for (name, target) in &moves {
            if let Err(err) = self.client.copy_object(
                (container, name),
                (new_container, target),
                true,
                Vec::new(),
            ) {
                error!("moving {container}/{prefix} failed at {name}: {err}; removing the {} copies made", copied.len());
                for done in &copied {
                    let _ = self.client.delete_object(new_container, done);
                }
                return Err(err.into());
            }
            copied.push(target);
        }
        let mut failures = 0;
        for (name, _) in &moves {
            if let Err(err) = self.client.delete_object(container, name) {
                failures += 1;
                error!("moved {container}/{name} but could not delete it: {err}");
            }
        }
        info!(
            "moved {} objects from {container}/{prefix} to {new_container}/{new_prefix}",
            moves.len()
        );
        if failures > 0 {
            return Err(FsError::Swift(SwiftError::Status {
                method: "DELETE",
                path: format!("{container}/{prefix}"),
                status: 500,
                trans_id: format!("{failures} sources left behind"),
            }));
        }
        Ok(())
    }

    /// Lists every object name under `prefix`, following pages, without delimiter.
    fn all_object_names(&self, container: &str, prefix: &str) -> Result<Vec<String>, FsError> {
        let limit = self.config.listing_limit;
        let mut names = Vec::new();
        let mut marker = String::new();
        loop {
            let page = self
                .client
                .list_objects(container, prefix, false, &marker, limit)?;
            let full = page.len() >= limit;
            names.extend(page.iter().map(|row| row.name().to_string()));
            match names.last() {
                Some(last) if full => marker = last.clone(),
                _ => return Ok(names),
            }
        }
    }
}

fn staging_error(file: &Staged, source: std::io::Error) -> FsError {
    FsError::Staging {
        path: file.path.display().to_string(),
        source,
    }
}

/// Chooses the content type to set when `old_name` becomes `new_name`: the
/// new extension's type when the current type is missing, generic, or what the
/// old name's extension suggested. `None` keeps the current type.
fn renamed_content_type(current: Option<&str>, old_name: &str, new_name: &str) -> Option<String> {
    let guessed = mime_guess::from_path(new_name).first_raw()?;
    let was_guess = match current {
        None => true,
        Some(current) => {
            current == "application/octet-stream"
                || mime_guess::from_path(old_name).first_raw() == Some(current)
        }
    };
    (was_guess && current != Some(guessed)).then(|| guessed.to_string())
}

/// Shared map type of the files open for writing, by inode.
pub(super) type StagedFiles = Mutex<HashMap<u64, SharedStaged>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_keeps_explicit_type() {
        assert_eq!(
            renamed_content_type(Some("text/markdown"), "blub", "bla"),
            None
        );
    }

    #[test]
    fn rename_from_temp_name_takes_new_type() {
        assert_eq!(
            renamed_content_type(Some("application/octet-stream"), "sedAbC12", "notes.md"),
            Some("text/markdown".to_string())
        );
    }

    #[test]
    fn rename_guessed_type_follows_extension() {
        assert_eq!(
            renamed_content_type(Some("text/plain"), "a.txt", "a.html"),
            Some("text/html".to_string())
        );
    }

    #[test]
    fn rename_without_extension_keeps_type() {
        assert_eq!(
            renamed_content_type(Some("text/plain"), "a.txt", "noext"),
            None
        );
    }
}
