//! The Swift side: authentication, the token manager and the object client.
//! Nothing in here knows about inodes or FUSE.

pub mod auth;
pub mod client;
pub mod error;
pub mod headers;
pub mod http;
pub mod listing;
pub mod path;
pub mod stats;
pub mod token;

#[cfg(test)]
mod parser_fuzz;

pub use client::SwiftClient;
pub use error::SwiftError;
