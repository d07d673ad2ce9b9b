//! swiftmount: an OpenStack Swift account or container mounted through FUSE.
//!
//! A request flows from the kernel through three layers:
//! - `fuse`: the thin adapter that turns fuser callbacks into calls on `fs`
//!   and `Result`s into replies;
//! - `fs`: the filesystem logic (inodes, directory listings, attributes,
//!   open files), which knows nothing of FUSE's wire types;
//! - `swift`: the HTTP client for the Swift API, with authentication and the
//!   shared token manager, which knows nothing of filesystems.
//!
//! `cli` turns arguments and `OS_*` environment variables into the typed
//! configuration that the layers take.

pub mod cli;
pub mod fs;
pub mod fuse;
pub mod swift;
