//! File attributes as the filesystem layer sees them, independent of fuser.

use std::time::{Duration, SystemTime};

/// Block size reported in `st_blksize`; tools such as `cp` size their
/// buffers from it, and reads are turned into ranged GETs of their own size.
pub const BLOCK_SIZE: u32 = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Directory,
    File,
}

/// Ownership and permission bits applied to every inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ownership {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits of regular files, such as `0o644`.
    pub file_mode: u16,
    /// Permission bits of directories, such as `0o755`.
    pub dir_mode: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr {
    pub ino: u64,
    pub kind: Kind,
    pub size: u64,
    pub mtime: SystemTime,
    pub perm: u16,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Attr {
    pub fn new(ino: u64, kind: Kind, size: u64, mtime: SystemTime, owner: &Ownership) -> Attr {
        let (perm, nlink) = match kind {
            Kind::Directory => (owner.dir_mode, 2),
            Kind::File => (owner.file_mode, 1),
        };
        Attr {
            ino,
            kind,
            size,
            mtime,
            perm,
            nlink,
            uid: owner.uid,
            gid: owner.gid,
        }
    }

    /// Allocated size in 512-byte units, as `du` expects: the size rounded up.
    pub fn blocks(&self) -> u64 {
        self.size.div_ceil(512)
    }
}

/// How long each kind of cached answer stays valid, here and in the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheTtls {
    /// File and directory attributes.
    pub attr: Duration,
    /// Directory listings, and lookups answered from them.
    pub dir: Duration,
    /// Names found not to exist.
    pub negative: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_up() {
        let owner = Ownership {
            uid: 0,
            gid: 0,
            file_mode: 0o644,
            dir_mode: 0o755,
        };
        let attr = Attr::new(2, Kind::File, 513, SystemTime::UNIX_EPOCH, &owner);
        assert_eq!(attr.blocks(), 2);
    }

    #[test]
    fn directory_gets_dir_mode() {
        let owner = Ownership {
            uid: 7,
            gid: 8,
            file_mode: 0o600,
            dir_mode: 0o700,
        };
        let attr = Attr::new(1, Kind::Directory, 0, SystemTime::UNIX_EPOCH, &owner);
        assert_eq!(attr.perm, 0o700);
        assert_eq!(attr.nlink, 2);
        assert_eq!((attr.uid, attr.gid), (7, 8));
    }
}
