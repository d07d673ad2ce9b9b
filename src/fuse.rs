//! The kernel adapter: each fuser callback calls one `SwiftFs` method and
//! turns its `Result` into a reply. No filesystem logic lives here.

use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, OpenAccMode, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs,
    ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use log::{debug, warn};

use crate::fs::attr::{Attr, Kind, BLOCK_SIZE};
use crate::fs::dir::NAME_MAX;
use crate::fs::error::FsError;
use crate::fs::SwiftFs;

/// Largest readahead the kernel may do on a file, in bytes. The object
/// reader fetches ahead itself, so kernel readahead mostly adds requests for
/// bytes that no program read. With 1 MiB, reading the first 256 KiB of a
/// photo in 8 KiB steps (`head -c`) made Linux 6.18 request 496 KiB, and
/// with 64 KiB it requests 368 KiB. Sequential reads still arrive as
/// requests of 128 KiB with either value.
const MAX_READAHEAD: u32 = 64 * 1024;

pub struct FuseAdapter {
    fs: Arc<SwiftFs>,
}

impl FuseAdapter {
    pub fn new(fs: Arc<SwiftFs>) -> FuseAdapter {
        FuseAdapter { fs }
    }

    /// Logs a failed operation (debug for expected outcomes such as a lookup
    /// of a missing name, warn otherwise) and returns its errno.
    fn fail(&self, operation: &str, ino: u64, error: &FsError) -> Errno {
        if error.is_expected() {
            debug!("{operation} {}: {error}", self.fs.describe(ino));
        } else {
            warn!("{operation} {}: {error}", self.fs.describe(ino));
        }
        Errno::from_i32(error.errno())
    }

    fn read_only(&self, operation: &str, ino: u64) -> Errno {
        debug!(
            "{operation} {}: read-only file system",
            self.fs.describe(ino)
        );
        Errno::EROFS
    }
}

fn file_attr(attr: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(attr.ino),
        size: attr.size,
        blocks: attr.blocks(),
        atime: attr.mtime,
        mtime: attr.mtime,
        ctime: attr.mtime,
        crtime: attr.mtime,
        kind: match attr.kind {
            Kind::Directory => FileType::Directory,
            Kind::File => FileType::RegularFile,
        },
        perm: attr.perm,
        nlink: attr.nlink,
        uid: attr.uid,
        gid: attr.gid,
        rdev: 0,
        blksize: BLOCK_SIZE,
        flags: 0,
    }
}

fn file_type(kind: Kind) -> FileType {
    match kind {
        Kind::Directory => FileType::Directory,
        Kind::File => FileType::RegularFile,
    }
}

impl Filesystem for FuseAdapter {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        // READDIRPLUS returns attributes with the names, so `ls -l` needs no
        // lookup per entry. Kernels without it fall back to READDIR.
        let wanted = InitFlags::FUSE_DO_READDIRPLUS
            | InitFlags::FUSE_READDIRPLUS_AUTO
            | InitFlags::FUSE_PARALLEL_DIROPS;
        if let Err(missing) = config.add_capabilities(wanted) {
            debug!("kernel lacks FUSE capabilities {missing:?}");
        }
        if let Err(nearest) = config.set_max_readahead(MAX_READAHEAD) {
            let _ = config.set_max_readahead(nearest);
        }
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.fs.lookup(parent.0, name) {
            Ok(entry) => reply.entry(&entry.ttl, &file_attr(&entry.attr), Generation(0)),
            Err(error) => {
                let errno = self.fail(&format!("lookup {name:?} in"), parent.0, &error);
                reply.error(errno)
            }
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.fs.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.fs.getattr(ino.0) {
            Ok(entry) => reply.attr(&entry.ttl, &file_attr(&entry.attr)),
            Err(error) => reply.error(self.fail("getattr", ino.0, &error)),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.fs.opendir(ino.0) {
            Ok(handle) => reply.opened(FileHandle(handle), FopenFlags::empty()),
            Err(error) => reply.error(self.fail("opendir", ino.0, &error)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let result = self.fs.readdir(ino.0, fh.0, offset, false, |item| {
            reply.add(
                INodeNo(item.attr.ino),
                item.next_offset,
                file_type(item.attr.kind),
                item.name,
            )
        });
        match result {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(self.fail("readdir", ino.0, &error)),
        }
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let result = self.fs.readdir(ino.0, fh.0, offset, true, |item| {
            reply.add(
                INodeNo(item.attr.ino),
                item.next_offset,
                item.name,
                &item.ttl,
                &file_attr(&item.attr),
                Generation(0),
            )
        });
        match result {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(self.fail("readdirplus", ino.0, &error)),
        }
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.fs.releasedir(fh.0);
        reply.ok();
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let write =
            !matches!(flags.acc_mode(), OpenAccMode::O_RDONLY) || flags.0 & libc::O_TRUNC != 0;
        match self.fs.open(ino.0, write) {
            Ok((handle, keep_cache)) => {
                let flags = if keep_cache {
                    FopenFlags::FOPEN_KEEP_CACHE
                } else {
                    FopenFlags::empty()
                };
                reply.opened(FileHandle(handle), flags)
            }
            Err(error) => reply.error(self.fail("open", ino.0, &error)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.fs.read(fh.0, offset, size) {
            Ok(data) => reply.data(&data),
            Err(error) => {
                reply.error(self.fail(&format!("read at offset {offset} of"), ino.0, &error))
            }
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.fs.release(fh.0);
        reply.ok();
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, ino: INodeNo, reply: ReplyStatfs) {
        match self.fs.statfs() {
            Ok(stats) => reply.statfs(
                stats.blocks,
                stats.blocks_free,
                stats.blocks_free,
                stats.files,
                stats.files_free,
                stats.block_size,
                NAME_MAX as u32,
                stats.block_size,
            ),
            Err(error) => reply.error(self.fail("statfs", ino.0, &error)),
        }
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        match self.fs.getxattr(ino.0, name) {
            Ok(value) => reply_xattr(reply, &value, size),
            Err(error) => reply.error(self.fail(&format!("getxattr {name:?} of"), ino.0, &error)),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        reply_xattr(reply, &self.fs.listxattr(ino.0), size);
    }

    // Everything below changes the filesystem.
    // NOTE: writes are not implemented yet, so each returns EROFS.

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        _size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        reply.error(self.read_only("setattr", ino.0));
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        reply.error(self.read_only("mknod in", parent.0));
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        reply.error(self.read_only("mkdir in", parent.0));
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(self.read_only("unlink in", parent.0));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(self.read_only("rmdir in", parent.0));
    }

    fn symlink(
        &self,
        _req: &Request,
        parent: INodeNo,
        _link_name: &OsStr,
        _target: &Path,
        reply: ReplyEntry,
    ) {
        reply.error(self.read_only("symlink in", parent.0));
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        _name: &OsStr,
        _newparent: INodeNo,
        _newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply.error(self.read_only("rename in", parent.0));
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        reply.error(self.read_only("link", ino.0));
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        reply.error(self.read_only("write", ino.0));
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        reply.error(self.read_only("create in", parent.0));
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply.error(self.read_only("setxattr", ino.0));
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(self.read_only("removexattr", ino.0));
    }
}

/// Answers a getxattr/listxattr: the size when the caller asks for it
/// (`size == 0`), ERANGE when its buffer is too small, else the value.
fn reply_xattr(reply: ReplyXattr, value: &[u8], size: u32) {
    if size == 0 {
        reply.size(value.len() as u32);
    } else if value.len() > size as usize {
        reply.error(Errno::ERANGE);
    } else {
        reply.data(value);
    }
}
