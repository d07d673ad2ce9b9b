//! The inode table: numbers handed to the kernel, what Swift path each one
//! stands for, and the last attributes known for it.
//!
//! An inode number stays the same for a `(parent, name)` pair as long as the
//! kernel holds it and the entry keeps its kind. When a name changes kind
//! (a file replaced by a directory), it gets a new number, because the kernel
//! caches the type with the number.

use std::collections::HashMap;
use std::time::{Instant, SystemTime};

use super::attr::Kind;
use super::dir::FileInfo;

pub const ROOT_INO: u64 = 1;

/// The Swift location an inode stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// The account: its entries are containers.
    Account,
    /// A container (with an empty prefix) or a pseudo-directory in it; a
    /// non-empty prefix ends with `/`.
    Prefix { container: String, prefix: String },
    /// An object.
    Object { container: String, name: String },
}

impl Location {
    /// The location of the entry `name` of kind `kind` inside this directory.
    /// Returns `None` when `self` is not a directory.
    pub fn child(&self, name: &str, kind: Kind) -> Option<Location> {
        match (self, kind) {
            (Location::Account, Kind::Directory) => Some(Location::Prefix {
                container: name.to_string(),
                prefix: String::new(),
            }),
            (Location::Account, Kind::File) => None,
            (Location::Prefix { container, prefix }, Kind::Directory) => Some(Location::Prefix {
                container: container.clone(),
                prefix: format!("{prefix}{name}/"),
            }),
            (Location::Prefix { container, prefix }, Kind::File) => Some(Location::Object {
                container: container.clone(),
                name: format!("{prefix}{name}"),
            }),
            (Location::Object { .. }, _) => None,
        }
    }

    /// `container/object/path` for logs and errors.
    pub fn display(&self) -> String {
        match self {
            Location::Account => "/".to_string(),
            Location::Prefix { container, prefix } => format!("{container}/{prefix}"),
            Location::Object { container, name } => format!("{container}/{name}"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Inode {
    pub ino: u64,
    pub parent: u64,
    pub name: String,
    pub kind: Kind,
    pub location: Location,
    /// `Some` for files.
    pub file: Option<FileInfo>,
    /// Directory modification time when known (containers), else mount time.
    pub dir_mtime: SystemTime,
    /// When the attributes were last confirmed by Swift.
    pub confirmed: Instant,
    /// How many times the kernel was given this inode and has not forgotten it.
    lookups: u64,
}

pub struct InodeTable {
    inodes: HashMap<u64, Inode>,
    children: HashMap<(u64, String), u64>,
    next_ino: u64,
}

impl InodeTable {
    pub fn new(root: Location, mount_time: SystemTime) -> InodeTable {
        let mut inodes = HashMap::new();
        inodes.insert(
            ROOT_INO,
            Inode {
                ino: ROOT_INO,
                parent: ROOT_INO,
                name: String::new(),
                kind: Kind::Directory,
                location: root,
                file: None,
                dir_mtime: mount_time,
                confirmed: Instant::now(),
                lookups: 1,
            },
        );
        InodeTable {
            inodes,
            children: HashMap::new(),
            next_ino: ROOT_INO + 1,
        }
    }

    pub fn get(&self, ino: u64) -> Option<&Inode> {
        self.inodes.get(&ino)
    }

    pub fn get_mut(&mut self, ino: u64) -> Option<&mut Inode> {
        self.inodes.get_mut(&ino)
    }

    /// Returns the inode number already given to `name` in `parent`, if any.
    pub fn child(&self, parent: u64, name: &str) -> Option<u64> {
        self.children.get(&(parent, name.to_string())).copied()
    }

    /// Records what Swift returned for `name` in `parent`, creating the inode or
    /// refreshing it, and returns its number. Returns `None` if `parent` is
    /// unknown or not a directory.
    pub fn upsert_child(
        &mut self,
        parent: u64,
        name: &str,
        kind: Kind,
        file: Option<FileInfo>,
        dir_mtime: Option<SystemTime>,
    ) -> Option<u64> {
        let parent_inode = self.inodes.get(&parent)?;
        let location = parent_inode.location.child(name, kind)?;
        let inherited_mtime = parent_inode.dir_mtime;
        let key = (parent, name.to_string());

        if let Some(&ino) = self.children.get(&key) {
            if let Some(inode) = self.inodes.get_mut(&ino) {
                if inode.kind == kind {
                    let keep_known_size = match (&inode.file, &file) {
                        (Some(old), Some(new)) => keeps_confirmed_size(old, new),
                        _ => false,
                    };
                    if !keep_known_size {
                        inode.file = file;
                    }
                    if let Some(mtime) = dir_mtime {
                        inode.dir_mtime = mtime;
                    }
                    inode.confirmed = Instant::now();
                    return Some(ino);
                }
            }
        }

        let ino = self.next_ino;
        self.next_ino += 1;
        self.inodes.insert(
            ino,
            Inode {
                ino,
                parent,
                name: name.to_string(),
                kind,
                location,
                file,
                dir_mtime: dir_mtime.unwrap_or(inherited_mtime),
                confirmed: Instant::now(),
                lookups: 0,
            },
        );
        self.children.insert(key, ino);
        Some(ino)
    }

    /// Detaches `name` from `parent` after it was deleted or renamed away.
    /// The inode itself stays until the kernel forgets it.
    pub fn remove_child(&mut self, parent: u64, name: &str) -> Option<u64> {
        self.children.remove(&(parent, name.to_string()))
    }

    /// Moves inode `ino` to `name` in `parent`, after a rename in Swift.
    /// Whatever had that name before is detached. Returns `false` if either
    /// inode is unknown or `parent` is not a directory.
    pub fn move_inode(&mut self, ino: u64, parent: u64, name: &str) -> bool {
        let Some(kind) = self.inodes.get(&ino).map(|inode| inode.kind) else {
            return false;
        };
        let Some(location) = self
            .inodes
            .get(&parent)
            .and_then(|dir| dir.location.child(name, kind))
        else {
            return false;
        };
        let Some(inode) = self.inodes.get_mut(&ino) else {
            return false;
        };
        let old_key = (inode.parent, inode.name.clone());
        inode.parent = parent;
        inode.name = name.to_string();
        inode.location = location;
        if self.children.get(&old_key) == Some(&ino) {
            self.children.remove(&old_key);
        }
        self.children.insert((parent, name.to_string()), ino);
        self.relocate_descendants(ino);
        true
    }

    /// Recomputes the locations below a moved directory, so that inodes the
    /// kernel still holds point at the new object names.
    fn relocate_descendants(&mut self, root: u64) {
        let mut pending = vec![root];
        while let Some(dir) = pending.pop() {
            let Some(location) = self.inodes.get(&dir).map(|inode| inode.location.clone()) else {
                continue;
            };
            let children: Vec<(String, u64)> = self
                .children
                .iter()
                .filter(|((parent, _), _)| *parent == dir)
                .map(|((_, name), child)| (name.clone(), *child))
                .collect();
            for (name, child) in children {
                let Some(inode) = self.inodes.get_mut(&child) else {
                    continue;
                };
                if let Some(moved) = location.child(&name, inode.kind) {
                    inode.location = moved;
                }
                if inode.kind == Kind::Directory {
                    pending.push(child);
                }
            }
        }
    }

    /// Counts one more reference held by the kernel.
    pub fn add_lookup(&mut self, ino: u64) {
        if let Some(inode) = self.inodes.get_mut(&ino) {
            inode.lookups += 1;
        }
    }

    /// Drops `count` kernel references; an inode with none left is removed.
    pub fn forget(&mut self, ino: u64, count: u64) {
        if ino == ROOT_INO {
            return;
        }
        let Some(inode) = self.inodes.get_mut(&ino) else {
            return;
        };
        inode.lookups = inode.lookups.saturating_sub(count);
        if inode.lookups > 0 {
            return;
        }
        let key = (inode.parent, inode.name.clone());
        self.inodes.remove(&ino);
        if self.children.get(&key) == Some(&ino) {
            self.children.remove(&key);
        }
    }

    pub fn len(&self) -> usize {
        self.inodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inodes.is_empty()
    }
}

/// `true` when `new`, a listing row of unconfirmed size (a possible Dynamic
/// Large Object listed as 0 bytes), describes the same write as `old`, whose
/// size a `HEAD` confirmed. The ETags cannot be compared, because a listing
/// gives the manifest's hash and a `HEAD` the whole object's ETag; the write
/// times are the same instant, rounded differently.
fn keeps_confirmed_size(old: &FileInfo, new: &FileInfo) -> bool {
    if !old.size_known || new.size_known {
        return false;
    }
    match (old.mtime, new.mtime) {
        (Some(a), Some(b)) => {
            let gap = a.duration_since(b).or_else(|_| b.duration_since(a));
            gap.is_ok_and(|gap| gap < std::time::Duration::from_secs(1))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> InodeTable {
        InodeTable::new(
            Location::Prefix {
                container: "c".into(),
                prefix: String::new(),
            },
            SystemTime::UNIX_EPOCH,
        )
    }

    fn info(size: u64) -> FileInfo {
        FileInfo {
            size,
            mtime: None,
            etag: Some("e".into()),
            content_type: None,
            size_known: size > 0,
        }
    }

    #[test]
    fn child_location_nests_prefix() {
        let mut inodes = table();
        let dir = inodes
            .upsert_child(ROOT_INO, "a", Kind::Directory, None, None)
            .unwrap();
        let file = inodes
            .upsert_child(dir, "b.txt", Kind::File, Some(info(1)), None)
            .unwrap();
        assert_eq!(
            inodes.get(file).unwrap().location,
            Location::Object {
                container: "c".into(),
                name: "a/b.txt".into()
            }
        );
    }

    #[test]
    fn same_name_keeps_number() {
        let mut inodes = table();
        let first = inodes
            .upsert_child(ROOT_INO, "x", Kind::File, Some(info(1)), None)
            .unwrap();
        let second = inodes
            .upsert_child(ROOT_INO, "x", Kind::File, Some(info(2)), None)
            .unwrap();
        assert_eq!(first, second);
        assert_eq!(inodes.get(first).unwrap().file.as_ref().unwrap().size, 2);
    }

    #[test]
    fn kind_change_gets_new_number() {
        let mut inodes = table();
        let file = inodes
            .upsert_child(ROOT_INO, "x", Kind::File, Some(info(1)), None)
            .unwrap();
        let dir = inodes
            .upsert_child(ROOT_INO, "x", Kind::Directory, None, None)
            .unwrap();
        assert_ne!(file, dir);
        assert_eq!(inodes.child(ROOT_INO, "x"), Some(dir));
    }

    #[test]
    fn forget_removes_unreferenced() {
        let mut inodes = table();
        let ino = inodes
            .upsert_child(ROOT_INO, "x", Kind::File, Some(info(1)), None)
            .unwrap();
        inodes.add_lookup(ino);
        inodes.add_lookup(ino);
        inodes.forget(ino, 1);
        assert!(inodes.get(ino).is_some());
        inodes.forget(ino, 1);
        assert!(inodes.get(ino).is_none());
        assert_eq!(inodes.child(ROOT_INO, "x"), None);
    }

    #[test]
    fn confirmed_size_survives_listing_zero() {
        let mut inodes = table();
        let mut confirmed = info(2_097_162);
        confirmed.mtime = Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1500));
        let ino = inodes
            .upsert_child(ROOT_INO, "dlo", Kind::File, Some(confirmed), None)
            .unwrap();
        let mut listed = info(0);
        listed.mtime = Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1200));
        inodes.upsert_child(ROOT_INO, "dlo", Kind::File, Some(listed), None);
        assert_eq!(
            inodes.get(ino).unwrap().file.as_ref().unwrap().size,
            2_097_162
        );
    }

    #[test]
    fn move_inode_updates_location() {
        let mut inodes = table();
        let dir = inodes
            .upsert_child(ROOT_INO, "d", Kind::Directory, None, None)
            .unwrap();
        let file = inodes
            .upsert_child(ROOT_INO, "x", Kind::File, Some(info(1)), None)
            .unwrap();
        assert!(inodes.move_inode(file, dir, "y"));
        assert_eq!(inodes.child(ROOT_INO, "x"), None);
        assert_eq!(inodes.child(dir, "y"), Some(file));
        assert_eq!(
            inodes.get(file).unwrap().location,
            Location::Object {
                container: "c".into(),
                name: "d/y".into()
            }
        );
    }

    #[test]
    fn move_directory_relocates_children() {
        let mut inodes = table();
        let a = inodes
            .upsert_child(ROOT_INO, "a", Kind::Directory, None, None)
            .unwrap();
        let b = inodes
            .upsert_child(a, "b", Kind::Directory, None, None)
            .unwrap();
        let file = inodes
            .upsert_child(b, "f", Kind::File, Some(info(1)), None)
            .unwrap();
        assert!(inodes.move_inode(a, ROOT_INO, "z"));
        assert_eq!(
            inodes.get(file).unwrap().location,
            Location::Object {
                container: "c".into(),
                name: "z/b/f".into()
            }
        );
    }

    #[test]
    fn account_rejects_files() {
        let mut inodes = InodeTable::new(Location::Account, SystemTime::UNIX_EPOCH);
        assert_eq!(
            inodes.upsert_child(ROOT_INO, "f", Kind::File, None, None),
            None
        );
    }
}
