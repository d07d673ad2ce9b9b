//! The `swiftmount` binary: check the configuration, authenticate, mount,
//! and serve until Ctrl-C, SIGTERM or an external unmount.

use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::Arc;

use clap::Parser;
use log::{error, info, warn};
use signal_hook::consts::{SIGINT, SIGTERM};

use swiftmount::cli::{Args, ProcessEnvironment, Settings};
use swiftmount::fs::{FsConfig, Root, SwiftFs};
use swiftmount::fuse::FuseAdapter;
use swiftmount::swift::auth;
use swiftmount::swift::error::error_chain;
use swiftmount::swift::http::build_client;
use swiftmount::swift::token::TokenManager;
use swiftmount::swift::{SwiftClient, SwiftError};

/// Entries per listing request when the cluster's /info does not publish a limit.
const DEFAULT_LISTING_LIMIT: usize = 10_000;

fn main() -> ExitCode {
    limit_malloc_caching();
    let args = Args::parse();
    init_logging(args.debug);
    let settings = match args.into_settings(&ProcessEnvironment) {
        Ok(settings) => settings,
        Err(message) => return fail(&message),
    };
    match run(settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

/// Makes glibc map every allocation of 256 KiB or more on its own and unmap
/// it when freed. By default glibc raises that threshold after the first
/// such free. From then on it serves the read path's multi-MiB part buffers
/// from per-thread arenas, which keep freed memory, so a 1 GiB sequential
/// read peaked at about 62 MiB RSS instead of 36 MiB (`scripts/bench-read`).
fn limit_malloc_caching() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; it runs before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("swiftmount: error: {message}");
    ExitCode::FAILURE
}

/// `RUST_LOG` wins; otherwise info, or debug for swiftmount with `--debug`.
/// fuser's session logs a warning when it finds the mount already gone after
/// `fusermount3 -u`, which is the normal way to stop, so it is kept at error.
fn init_logging(debug: bool) {
    let default = if debug {
        "info,fuser=warn,fuser::session=error,swiftmount=debug"
    } else {
        "info,fuser=warn,fuser::session=error"
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default))
        .format_timestamp_millis()
        .init();
}

/// Adds the fix for the usual certificate failure, a private certificate
/// authority, to an error message that names a certificate problem.
fn with_tls_hint(message: String) -> String {
    if message.contains("certificate") {
        format!("{message}. If the server uses a private certificate authority, pass its certificate with --ca-bundle")
    } else {
        message
    }
}

fn run(settings: Settings) -> Result<(), String> {
    check_mountpoint(&settings)?;

    let http = build_client(&settings.http)?;
    let authenticator = auth::authenticator(
        settings.auth.clone(),
        http.clone(),
        settings.storage_url_override.clone(),
    );
    let tokens = Arc::new(TokenManager::new(authenticator));
    let client = Arc::new(SwiftClient::new(
        http,
        tokens.clone(),
        settings.retry.clone(),
    ));

    // Authenticate and check the root now, so that a mistake ends the
    // program with a message before anything is mounted.
    let session = tokens
        .session()
        .map_err(|err| format!("cannot authenticate: {}", with_tls_hint(error_chain(&err))))?;
    match &settings.root {
        Root::Account => client.head_account().map(|_| ()),
        Root::Container(name) => client.head_container(name.as_str()).map(|_| ()),
    }
    .map_err(|err| match (&settings.root, &err) {
        (Root::Container(name), SwiftError::NotFound { .. }) => format!(
            "container {name:?} not found in account {}: check --container, or create it first",
            session.storage_url
        ),
        _ => format!(
            "cannot access {}: {}",
            session.storage_url,
            with_tls_hint(error_chain(&err))
        ),
    })?;

    let listing_limit = settings
        .listing_limit
        .unwrap_or_else(|| client.listing_limit().unwrap_or(DEFAULT_LISTING_LIMIT));
    let fs = SwiftFs::new(
        client.clone(),
        FsConfig {
            root: settings.root.clone(),
            owner: settings.owner,
            ttls: settings.ttls,
            listing_limit,
            read: settings.read,
            read_only: settings.read_only,
            staging_dir: settings.staging_dir.clone(),
            use_meta_mtime: settings.use_meta_mtime,
            segment_size: settings.segment_size,
        },
    )
    .map_err(|err| {
        format!(
            "cannot create the staging directory in {}: {err}; choose another with --staging-dir",
            settings.staging_dir.display()
        )
    })?;
    let fs = Arc::new(fs);
    serve(&settings, fs, &session.storage_url)
}

fn check_mountpoint(settings: &Settings) -> Result<(), String> {
    let path = &settings.mountpoint;
    let metadata = std::fs::metadata(path).map_err(|err| {
        format!(
            "mountpoint {} is not usable: {err}; create the directory first",
            path.display()
        )
    })?;
    if !metadata.is_dir() {
        return Err(format!("mountpoint {} is not a directory", path.display()));
    }
    Ok(())
}

enum Event {
    Signal(i32),
    SessionEnded(std::io::Result<()>),
}

/// Mounts, then waits for a signal (unmount and return) or for the session
/// to end by itself (someone ran `fusermount3 -u`).
fn serve(settings: &Settings, fs: Arc<SwiftFs>, storage_url: &str) -> Result<(), String> {
    let source = match &settings.root {
        Root::Account => storage_url.to_string(),
        Root::Container(name) => format!("{storage_url}/{name}"),
    };
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        fuser::MountOption::FSName(format!("swiftmount:{source}")),
        fuser::MountOption::Subtype("swiftmount".to_string()),
        fuser::MountOption::DefaultPermissions,
        fuser::MountOption::NoDev,
        fuser::MountOption::NoSuid,
    ];
    if settings.read_only {
        config.mount_options.push(fuser::MountOption::RO);
    }
    if settings.allow_other {
        config.acl = fuser::SessionACL::All;
    }
    config.n_threads = Some(settings.threads);

    let mut session =
        fuser::Session::new(FuseAdapter::new(fs.clone()), &settings.mountpoint, &config)
            .map_err(|err| format!("cannot mount on {}: {err}", settings.mountpoint.display()))?;
    let mut unmounter = session.unmount_callable();
    info!("mounted {source} on {}", settings.mountpoint.display());

    let (events, received) = mpsc::channel();
    let session_events = events.clone();
    std::thread::Builder::new()
        .name("fuse-session".to_string())
        .spawn(move || {
            let _ = session_events.send(Event::SessionEnded(session.run()));
        })
        .map_err(|err| format!("cannot start the FUSE session thread: {err}"))?;
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|err| format!("cannot install signal handlers: {err}"))?;
    std::thread::Builder::new()
        .name("signals".to_string())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let _ = events.send(Event::Signal(signal));
            }
        })
        .map_err(|err| format!("cannot start the signal thread: {err}"))?;

    match received.recv() {
        Ok(Event::Signal(signal)) => {
            let name = if signal == SIGINT {
                "SIGINT"
            } else {
                "SIGTERM"
            };
            info!(
                "received {name}, unmounting {}",
                settings.mountpoint.display()
            );
            if let Err(err) = unmounter.unmount() {
                // Open files make a plain unmount fail with EBUSY; detach
                // the mount so that no new access starts, and exit.
                warn!(
                    "unmounting {} failed ({err}), probably because files are open; detaching it",
                    settings.mountpoint.display()
                );
                lazy_unmount(&settings.mountpoint);
            }
            // The session thread ends once the kernel closes the channel.
            if let Ok(Event::SessionEnded(Err(err))) =
                received.recv_timeout(std::time::Duration::from_secs(10))
            {
                error!("FUSE session ended with an error: {err}");
            }
        }
        Ok(Event::SessionEnded(result)) => {
            info!("{} was unmounted", settings.mountpoint.display());
            if let Err(err) = result {
                error!("FUSE session ended with an error: {err}");
            }
        }
        Err(_) => {}
    }
    fs.shutdown();
    info!("requests sent: {}", fs.stats_line());
    Ok(())
}

/// Detaches the mount with `fusermount3 -u -z`, which works for root and
/// for the user who mounted.
fn lazy_unmount(mountpoint: &std::path::Path) {
    let result = std::process::Command::new("fusermount3")
        .arg("-u")
        .arg("-z")
        .arg("--")
        .arg(mountpoint)
        .status();
    match result {
        Ok(status) if status.success() => info!("detached {}", mountpoint.display()),
        Ok(status) => error!(
            "fusermount3 -u -z {} failed with {status}",
            mountpoint.display()
        ),
        Err(err) => error!(
            "cannot run fusermount3 to detach {}: {err}",
            mountpoint.display()
        ),
    }
}
