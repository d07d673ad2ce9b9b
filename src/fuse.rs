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
        // ATOMIC_O_TRUNC passes O_TRUNC to open instead of a separate
        // truncate first, which would upload an empty object.
        let wanted = InitFlags::FUSE_DO_READDIRPLUS
            | InitFlags::FUSE_READDIRPLUS_AUTO
            | InitFlags::FUSE_PARALLEL_DIROPS
            | InitFlags::FUSE_ATOMIC_O_TRUNC;
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
        let write = !matches!(flags.acc_mode(), OpenAccMode::O_RDONLY);
        let truncate = flags.0 & libc::O_TRUNC != 0;
        match self.fs.open(ino.0, write, truncate) {
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

    /// Called at every `close`: uploads changed data, so that `close`
    /// reports a failed upload.
    fn flush(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        match self.fs.flush(fh.0) {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(self.fail("flush (upload)", ino.0, &error)),
        }
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

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mtime = mtime.map(|time| match time {
            TimeOrNow::SpecificTime(time) => time,
            TimeOrNow::Now => SystemTime::now(),
        });
        match self.fs.setattr(ino.0, size, mtime) {
            Ok(entry) => reply.attr(&entry.ttl, &file_attr(&entry.attr)),
            Err(error) => reply.error(self.fail("setattr", ino.0, &error)),
        }
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        // Only regular files exist in Swift.
        if mode & libc::S_IFMT != libc::S_IFREG {
            debug!(
                "mknod {name:?} in {}: only regular files are supported",
                self.fs.describe(parent.0)
            );
            return reply.error(Errno::EPERM);
        }
        match self.fs.create(parent.0, name) {
            Ok((entry, handle)) => {
                self.fs.release(handle);
                reply.entry(&entry.ttl, &file_attr(&entry.attr), Generation(0))
            }
            Err(error) => reply.error(self.fail(&format!("mknod {name:?} in"), parent.0, &error)),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        match self.fs.mkdir(parent.0, name) {
            Ok(entry) => reply.entry(&entry.ttl, &file_attr(&entry.attr), Generation(0)),
            Err(error) => reply.error(self.fail(&format!("mkdir {name:?} in"), parent.0, &error)),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.fs.unlink(parent.0, name) {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(self.fail(&format!("unlink {name:?} in"), parent.0, &error)),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.fs.rmdir(parent.0, name) {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(self.fail(&format!("rmdir {name:?} in"), parent.0, &error)),
        }
    }

    fn symlink(
        &self,
        _req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        _target: &Path,
        reply: ReplyEntry,
    ) {
        // NOTE: Swift symlinks exist (the symlink middleware) but are not mapped yet.
        debug!(
            "symlink {link_name:?} in {}: not supported",
            self.fs.describe(parent.0)
        );
        reply.error(Errno::EPERM);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if flags.contains(RenameFlags::RENAME_EXCHANGE)
            || flags.contains(RenameFlags::RENAME_WHITEOUT)
        {
            return reply.error(Errno::EINVAL);
        }
        let no_replace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        match self
            .fs
            .rename(parent.0, name, newparent.0, newname, no_replace)
        {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(self.fail(
                &format!("rename {name:?} to {newname:?} in"),
                parent.0,
                &error,
            )),
        }
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        debug!(
            "link {}: hard links are not supported",
            self.fs.describe(ino.0)
        );
        reply.error(Errno::EPERM);
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.fs.write(fh.0, offset, data) {
            Ok(written) => reply.written(written),
            Err(error) => {
                reply.error(self.fail(&format!("write at offset {offset} of"), ino.0, &error))
            }
        }
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.fs.flush(fh.0) {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(self.fail("fsync", ino.0, &error)),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        match self.fs.create(parent.0, name) {
            Ok((entry, handle)) => reply.created(
                &entry.ttl,
                &file_attr(&entry.attr),
                Generation(0),
                FileHandle(handle),
                FopenFlags::empty(),
            ),
            Err(error) => reply.error(self.fail(&format!("create {name:?} in"), parent.0, &error)),
        }
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
        debug!("setxattr {}: not supported", self.fs.describe(ino.0));
        reply.error(Errno::ENOTSUP);
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        debug!("removexattr {}: not supported", self.fs.describe(ino.0));
        reply.error(Errno::ENOTSUP);
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
