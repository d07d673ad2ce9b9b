//! Running `swiftmount` in ways `Mount::start` does not: runs that must fail
//! before mounting, with a time limit in case they mount after all, and
//! mounts at a log level of the test's choosing.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{is_mounted, swiftmount_command, Mount, MountOptions};

/// How a run of `swiftmount` ended.
pub struct Exit {
    /// The exit code, or `None` when killed by a signal or by the time limit.
    pub code: Option<i32>,
    pub stderr: String,
    pub elapsed: Duration,
    /// Whether the mountpoint was mounted at any moment of the run.
    pub mounted: bool,
}

impl Exit {
    /// The `swiftmount: error: ...` line, or "" when there is none.
    pub fn error_line(&self) -> &str {
        self.stderr
            .lines()
            .find(|line| line.starts_with("swiftmount: error: "))
            .unwrap_or("")
    }
}

/// Runs `swiftmount` on a fresh mountpoint until it exits or `limit` passes.
/// A run that mounts is unmounted, and one still running at `limit` is
/// killed, so a test expecting a failure never hangs.
pub fn run_to_exit(env: &HashMap<String, String>, args: &[&str], limit: Duration) -> Exit {
    let mountpoint = tempfile::tempdir().unwrap();
    let stderr_path = mountpoint.path().with_extension("stderr");
    let stderr_file = std::fs::File::create(&stderr_path).unwrap();
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    let started = Instant::now();
    let mut child = swiftmount_command(env, &args, mountpoint.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr_file)
        .spawn()
        .expect("start swiftmount");

    let mut mounted = false;
    let code = loop {
        mounted |= is_mounted(mountpoint.path());
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() >= limit {
            if is_mounted(mountpoint.path()) {
                let _ = std::process::Command::new("fusermount3")
                    .arg("-uz")
                    .arg(mountpoint.path())
                    .status();
            }
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_file(&stderr_path);
    Exit {
        code,
        stderr,
        elapsed,
        mounted,
    }
}

/// `Mount::start` with `RUST_LOG` set to `filter` for this mount alone
/// (`Mount::start` takes it from the test process's environment).
pub fn mount_with_log_filter(options: MountOptions, filter: &str) -> Mount {
    Mount::start_with_log_filter(options, filter)
}

/// The `authenticated (<reason>) ...` lines of a mount's log, one per
/// successful authentication.
pub fn authentication_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| line.contains("authenticated ("))
        .collect()
}

/// `MountOptions` from an environment and string flags.
pub fn mount_options(env: HashMap<String, String>, args: &[&str]) -> MountOptions {
    MountOptions {
        env,
        args: args.iter().map(|arg| arg.to_string()).collect(),
    }
}

/// Lists the names in directory `path`, sorted. Panics when it cannot be
/// listed.
pub fn entry_names(path: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(path)
        .unwrap_or_else(|err| panic!("read_dir {}: {err}", path.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Fills `buffer` from `file` unless the file ends first, and returns the
/// number of bytes read.
pub fn read_chunk(file: &mut std::fs::File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        let read = file.read(&mut buffer[filled..])?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    Ok(filled)
}
