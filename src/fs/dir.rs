//! Turning listing rows into directory entries.
//!
//! Swift has no directories, so several rows can claim one name, and some
//! names cannot be shown at all. The rules, in the order they apply:
//! - the directory's own marker object (`dir/` listed inside `dir/`) is not
//!   an entry;
//! - a `subdir` row, and a zero-byte object of type `application/directory`
//!   (a directory marker, with or without the trailing `/`), are directories;
//! - when a file and a directory share a name (`foo` next to `foo/bar`), the
//!   directory wins and the object is reported as hidden;
//! - names that are empty (from `a//b`), `.` or `..`, or longer than 255
//!   bytes are skipped and reported, and the rest of the directory lists.

use std::collections::HashMap;
use std::time::SystemTime;

use crate::swift::listing::{ListedContainer, ListedObject, ListingEntry};

use super::attr::Kind;

/// Maximum file name length the kernel accepts (`NAME_MAX`), in bytes.
pub const NAME_MAX: usize = 255;

/// File attributes from a listing row.
#[derive(Clone, Debug, PartialEq)]
pub struct FileInfo {
    pub size: u64,
    pub mtime: Option<SystemTime>,
    pub etag: Option<String>,
    pub content_type: Option<String>,
    /// `false` for zero-byte rows that may be Dynamic Large Object manifests,
    /// whose listed size is 0 whatever their content: a `HEAD` must confirm.
    pub size_known: bool,
}

impl FileInfo {
    fn from_listing(object: &ListedObject) -> FileInfo {
        FileInfo {
            size: object.bytes,
            mtime: object.last_modified,
            etag: object.etag.clone(),
            content_type: object.content_type.clone(),
            size_known: object.bytes > 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct DirEntry {
    pub name: String,
    pub kind: Kind,
    /// `Some` for files.
    pub file: Option<FileInfo>,
    /// For directories that are containers, the container's modification time.
    pub mtime: Option<SystemTime>,
}

/// A row that did not become an entry, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The full object (or container) name.
    pub name: String,
    pub reason: &'static str,
}

/// Collects the rows of one directory, across pages, applying the rules in
/// the module documentation.
pub struct DirBuilder {
    prefix: String,
    entries: Vec<DirEntry>,
    index: HashMap<String, usize>,
    skipped: Vec<Skipped>,
}

/// Returns `true` when a content type marks a directory marker object.
pub fn is_directory_marker(content_type: Option<&str>, size: u64) -> bool {
    size == 0
        && content_type.is_some_and(|value| {
            value
                .split(';')
                .next()
                .is_some_and(|base| base.trim().eq_ignore_ascii_case("application/directory"))
        })
}

impl DirBuilder {
    /// `prefix` is the directory's object-name prefix (empty, or ending in `/`).
    pub fn new(prefix: &str) -> DirBuilder {
        DirBuilder {
            prefix: prefix.to_string(),
            entries: Vec::new(),
            index: HashMap::new(),
            skipped: Vec::new(),
        }
    }

    pub fn add_object_row(&mut self, row: &ListingEntry) {
        let full = row.name();
        let Some(rest) = full.strip_prefix(self.prefix.as_str()) else {
            return;
        };
        match row {
            ListingEntry::Subdir(_) => {
                let name = rest.strip_suffix('/').unwrap_or(rest);
                self.add_directory(full, name, None);
            }
            ListingEntry::Object(object) => {
                if rest.is_empty() {
                    return; // this directory's own marker
                }
                if let Some((first, _)) = rest.split_once('/') {
                    // Only reachable without a delimiter; treat like a subdir.
                    self.add_directory(full, first, None);
                } else if is_directory_marker(object.content_type.as_deref(), object.bytes) {
                    self.add_directory(full, rest, None);
                } else {
                    self.add_file(full, rest, FileInfo::from_listing(object));
                }
            }
        }
    }

    pub fn add_container(&mut self, container: &ListedContainer) {
        let name = container.name.as_str();
        self.add_directory(name, name, container.last_modified);
    }

    /// The entries in listing order, and the rows that were skipped or hidden.
    pub fn finish(self) -> (Vec<DirEntry>, Vec<Skipped>) {
        (self.entries, self.skipped)
    }

    fn check_name(&mut self, full: &str, name: &str) -> bool {
        let reason = if name.is_empty() {
            "empty path component (two '/' in a row, or a leading '/')"
        } else if name == "." || name == ".." {
            "path component '.' or '..'"
        } else if name.len() > NAME_MAX {
            "path component longer than 255 bytes"
        } else {
            return true;
        };
        self.skipped.push(Skipped {
            name: full.to_string(),
            reason,
        });
        false
    }

    fn add_directory(&mut self, full: &str, name: &str, mtime: Option<SystemTime>) {
        if !self.check_name(full, name) {
            return;
        }
        match self.index.get(name) {
            Some(&at) if self.entries[at].kind == Kind::Directory => {}
            Some(&at) => {
                let hidden = format!("{}{}", self.prefix, name);
                self.skipped.push(Skipped {
                    name: hidden,
                    reason: "object hidden by a directory of the same name",
                });
                self.entries[at] = DirEntry {
                    name: name.to_string(),
                    kind: Kind::Directory,
                    file: None,
                    mtime,
                };
            }
            None => {
                self.index.insert(name.to_string(), self.entries.len());
                self.entries.push(DirEntry {
                    name: name.to_string(),
                    kind: Kind::Directory,
                    file: None,
                    mtime,
                });
            }
        }
    }

    fn add_file(&mut self, full: &str, name: &str, info: FileInfo) {
        if !self.check_name(full, name) {
            return;
        }
        if self.index.contains_key(name) {
            self.skipped.push(Skipped {
                name: full.to_string(),
                reason: "object hidden by a directory of the same name",
            });
            return;
        }
        self.index.insert(name.to_string(), self.entries.len());
        self.entries.push(DirEntry {
            name: name.to_string(),
            kind: Kind::File,
            file: Some(info),
            mtime: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(name: &str, bytes: u64, content_type: &str) -> ListingEntry {
        ListingEntry::Object(ListedObject {
            name: name.to_string(),
            bytes,
            etag: None,
            content_type: Some(content_type.to_string()),
            last_modified: None,
        })
    }

    fn subdir(name: &str) -> ListingEntry {
        ListingEntry::Subdir(name.to_string())
    }

    fn build(prefix: &str, rows: &[ListingEntry]) -> (Vec<DirEntry>, Vec<Skipped>) {
        let mut builder = DirBuilder::new(prefix);
        for row in rows {
            builder.add_object_row(row);
        }
        builder.finish()
    }

    fn names(entries: &[DirEntry]) -> Vec<(&str, Kind)> {
        entries.iter().map(|e| (e.name.as_str(), e.kind)).collect()
    }

    #[test]
    fn marker_with_subdir_listed_once() {
        let (entries, _) = build(
            "",
            &[
                object("pkg", 0, "application/directory"),
                subdir("pkg/"),
                subdir("slash/"),
                subdir("empty/"),
                object("emptynoslash", 0, "application/directory"),
                object("file0", 0, "text/plain"),
            ],
        );
        assert_eq!(
            names(&entries),
            vec![
                ("pkg", Kind::Directory),
                ("slash", Kind::Directory),
                ("empty", Kind::Directory),
                ("emptynoslash", Kind::Directory),
                ("file0", Kind::File),
            ]
        );
    }

    #[test]
    fn own_marker_is_not_an_entry() {
        let (entries, skipped) = build(
            "slash/",
            &[
                object("slash/", 0, "application/directory"),
                object("slash/a.txt", 2, "text/plain"),
            ],
        );
        assert_eq!(names(&entries), vec![("a.txt", Kind::File)]);
        assert!(skipped.is_empty());
    }

    #[test]
    fn directory_wins_over_file() {
        let (entries, skipped) = build("", &[object("foo", 5, "text/plain"), subdir("foo/")]);
        assert_eq!(names(&entries), vec![("foo", Kind::Directory)]);
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].name, "foo");
    }

    #[test]
    fn empty_component_skipped() {
        let (entries, skipped) = build("a/", &[subdir("a//"), subdir("a/b/")]);
        assert_eq!(names(&entries), vec![("b", Kind::Directory)]);
        assert_eq!(skipped[0].name, "a//");
    }

    #[test]
    fn long_name_skipped_not_truncated() {
        let long = format!("long/{}", "n".repeat(300));
        let (entries, skipped) = build(
            "long/",
            &[
                object(&long, 4, "text/plain"),
                object("long/short.txt", 5, "text/plain"),
            ],
        );
        assert_eq!(names(&entries), vec![("short.txt", Kind::File)]);
        assert_eq!(skipped[0].name, long);
    }

    #[test]
    fn zero_byte_file_size_unknown() {
        let (entries, _) = build("", &[object("dlo.bin", 0, "application/octet-stream")]);
        let info = entries[0].file.as_ref().unwrap();
        assert!(!info.size_known);
    }

    #[test]
    fn nonzero_file_size_known() {
        let (entries, _) = build("", &[object("a.jpg", 10, "image/jpeg")]);
        let info = entries[0].file.as_ref().unwrap();
        assert!(info.size_known);
        assert_eq!(info.size, 10);
    }

    #[test]
    fn marker_with_parameters_recognised() {
        assert!(is_directory_marker(
            Some("application/directory; charset=x"),
            0
        ));
        assert!(!is_directory_marker(Some("application/directory"), 3));
        assert!(!is_directory_marker(Some("text/plain"), 0));
    }
}
