//! Staging files: the local copy of a file opened for writing, uploaded
//! whole with one `PUT` when it is closed or synced.
//!
//! Swift cannot change part of an object, so every write goes to a local
//! file first. The staging directory is created mode 0700 and each file
//! 0600. A file whose upload failed is kept, and its path logged, so that
//! nothing written is lost silently.

use std::fs::{DirBuilder, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use md5::{Digest, Md5};

/// The directory that holds the staging files of one mount.
pub struct StagingArea {
    dir: PathBuf,
}

impl StagingArea {
    /// Creates (or reuses) `base/swiftmount-staging-<pid>` with mode 0700.
    pub fn new(base: &Path) -> io::Result<StagingArea> {
        let dir = base.join(format!("swiftmount-staging-{}", std::process::id()));
        DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
        Ok(StagingArea { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates an empty staging file, mode 0600, that stays until removed.
    pub fn create_file(&self) -> io::Result<(File, PathBuf)> {
        let file = tempfile::Builder::new()
            .prefix("upload-")
            .tempfile_in(&self.dir)?;
        let (file, path) = file.keep().map_err(|err| err.error)?;
        Ok((file, path))
    }

    /// Removes the staging directory if it is empty (no failed uploads kept).
    pub fn remove_if_empty(&self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The staged state of one file, shared by every handle open on it.
pub struct Staged {
    pub container: String,
    pub object: String,
    pub file: File,
    pub path: PathBuf,
    pub size: u64,
    /// `true` when the local data differs from the object in Swift.
    pub dirty: bool,
    pub content_type: String,
    /// `X-Object-Meta-*` of the object being replaced, sent again on upload.
    pub user_metadata: Vec<(String, String)>,
    /// A modification time set with `utimens` while the file was open.
    pub mtime: Option<SystemTime>,
    /// Handles open on this file; the staging file goes when the last closes.
    pub handles: u32,
    /// Set when the name was unlinked or renamed while open: no upload then.
    pub detached: bool,
}

impl Staged {
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file.write_all_at(data, offset)?;
        self.size = self.size.max(offset + data.len() as u64);
        self.dirty = true;
        Ok(())
    }

    pub fn read_at(&self, offset: u64, len: u32) -> io::Result<Vec<u8>> {
        if offset >= self.size {
            return Ok(Vec::new());
        }
        let len = (len as u64).min(self.size - offset) as usize;
        let mut buffer = vec![0u8; len];
        self.file.read_exact_at(&mut buffer, offset)?;
        Ok(buffer)
    }

    pub fn truncate(&mut self, size: u64) -> io::Result<()> {
        self.file.set_len(size)?;
        self.size = size;
        self.dirty = true;
        Ok(())
    }

    /// Computes the hex MD5 of the staged data, sent as `ETag` so that Swift rejects
    /// an upload that arrives damaged.
    pub fn md5_hex(&self) -> io::Result<String> {
        self.md5_range(0, self.size)
    }

    /// Computes the hex MD5 of `len` staged bytes at `offset` (one segment).
    pub fn md5_range(&self, offset: u64, len: u64) -> io::Result<String> {
        let mut hasher = Md5::new();
        let mut buffer = vec![0u8; 1024 * 1024];
        let mut position = offset;
        let end = offset + len;
        while position < end {
            let want = ((end - position) as usize).min(buffer.len());
            let read = self.file.read_at(&mut buffer[..want], position)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            position += read as u64;
        }
        Ok(format!("{:x}", hasher.finalize()))
    }

    /// Builds the headers of the `PUT` that uploads this file.
    /// Without `etag` (a segmented upload's manifest), none is sent.
    pub fn upload_headers(&self, etag: Option<String>) -> Vec<(String, String)> {
        let mut headers = vec![("content-type".to_string(), self.content_type.clone())];
        if let Some(etag) = etag {
            headers.push(("etag".to_string(), etag));
        }
        let mtime_header = "x-object-meta-mtime";
        headers.extend(
            self.user_metadata
                .iter()
                .filter(|(name, _)| self.mtime.is_none() || name != mtime_header)
                .cloned(),
        );
        if let Some(mtime) = self.mtime {
            headers.push((mtime_header.to_string(), unix_seconds(mtime)));
        }
        headers
    }
}

/// Formats a time as seconds since the epoch with microseconds, as
/// `X-Object-Meta-Mtime` is commonly written (python-swiftclient, rclone).
pub fn unix_seconds(time: SystemTime) -> String {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:06}", since.as_secs(), since.subsec_micros())
}

/// Guesses the content type of a new object from its name's extension.
pub fn guess_content_type(name: &str) -> String {
    mime_guess::from_path(name)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn staged(area: &StagingArea) -> Staged {
        let (file, path) = area.create_file().unwrap();
        Staged {
            container: "c".into(),
            object: "o".into(),
            file,
            path,
            size: 0,
            dirty: false,
            content_type: "text/plain".into(),
            user_metadata: vec![
                ("x-object-meta-color".into(), "blue".into()),
                ("x-object-meta-mtime".into(), "1.000000".into()),
            ],
            mtime: None,
            handles: 1,
            detached: false,
        }
    }

    #[test]
    fn staging_dir_and_file_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let area = StagingArea::new(base.path()).unwrap();
        let (_, path) = area.create_file().unwrap();
        let dir_mode = std::fs::metadata(area.dir()).unwrap().permissions().mode() & 0o777;
        let file_mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        assert_eq!(file_mode, 0o600);
    }

    #[test]
    fn write_then_read_back() {
        let base = tempfile::tempdir().unwrap();
        let area = StagingArea::new(base.path()).unwrap();
        let mut file = staged(&area);
        file.write_at(0, b"hello").unwrap();
        file.write_at(10, b"x").unwrap();
        assert_eq!(file.size, 11);
        assert!(file.dirty);
        assert_eq!(file.read_at(0, 5).unwrap(), b"hello");
        assert_eq!(file.read_at(5, 100).unwrap(), vec![0, 0, 0, 0, 0, b'x']);
        assert!(file.read_at(11, 4).unwrap().is_empty());
    }

    #[test]
    fn md5_of_staged_data() {
        let base = tempfile::tempdir().unwrap();
        let area = StagingArea::new(base.path()).unwrap();
        let mut file = staged(&area);
        file.write_at(0, b"hello").unwrap();
        assert_eq!(file.md5_hex().unwrap(), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn upload_headers_replace_mtime() {
        let base = tempfile::tempdir().unwrap();
        let area = StagingArea::new(base.path()).unwrap();
        let mut file = staged(&area);
        file.mtime = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_934_245));
        let headers = file.upload_headers(Some("e".into()));
        let mtimes: Vec<_> = headers
            .iter()
            .filter(|(name, _)| name == "x-object-meta-mtime")
            .collect();
        assert_eq!(mtimes.len(), 1);
        assert_eq!(mtimes[0].1, "1577934245.000000");
        assert!(headers.contains(&("x-object-meta-color".into(), "blue".into())));
    }

    #[test]
    fn content_type_from_extension() {
        assert_eq!(guess_content_type("new.html"), "text/html");
        assert_eq!(guess_content_type("noext"), "application/octet-stream");
    }
}
