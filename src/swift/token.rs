//! The token manager: one current token for every thread of the mount.
//!
//! Renewal is single-flight. The first thread to find a renewal due (at
//! startup, before expiry, or after a 401 on the current token)
//! authenticates. The others keep using a still-valid token or wait on
//! `renewed` for the result, so N threads hitting a 401 at once cause one
//! authentication.
//!
//! After a failed authentication, new attempts are held back for a delay that
//! starts at `FIRST_BACKOFF` and doubles up to `MAX_BACKOFF`. During that time
//! callers get the last error at once instead of sending another request, so
//! a wrong password can never turn into a request storm against the identity
//! service.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use log::{info, warn};
use parking_lot::{Condvar, Mutex};
use secrecy::SecretString;

use super::auth::{AuthError, Authenticator};
use super::error::SwiftError;

/// Renewal starts this long before the expiry the server gave, at most.
pub const MAX_RENEWAL_MARGIN: Duration = Duration::from_secs(300);
/// Shorter-lived tokens are renewed when a tenth of their lifetime is left,
/// so a 120 s token is renewed 12 s ahead rather than at every request.
const RENEWAL_MARGIN_FRACTION: u32 = 10;
/// Delay before a second attempt after a failed authentication.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(2);
/// Maximum delay between failed authentication attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// A token and the storage URL it is valid for, tagged with a generation
/// number that increases with every successful authentication.
#[derive(Debug)]
pub struct Session {
    pub token: SecretString,
    pub storage_url: String,
    pub generation: u64,
}

/// The cause of a renewal, logged with each authentication.
#[derive(Clone, Copy, Debug)]
enum Reason {
    Startup,
    ExpiresSoon,
    Unauthorized,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Startup => "startup",
            Reason::ExpiresSoon => "token expires soon",
            Reason::Unauthorized => "Swift answered 401",
        }
    }
}

struct State {
    current: Option<Arc<Session>>,
    /// When to renew ahead of expiry; `None` when the server gave no expiry.
    renew_at: Option<SystemTime>,
    expires_at: Option<SystemTime>,
    renewing: bool,
    generation: u64,
    last_error: Option<Arc<AuthError>>,
    failures: u32,
    retry_not_before: Option<Instant>,
}

pub struct TokenManager {
    authenticator: Box<dyn Authenticator>,
    state: Mutex<State>,
    renewed: Condvar,
    authentications: AtomicU64,
}

impl TokenManager {
    pub fn new(authenticator: Box<dyn Authenticator>) -> TokenManager {
        TokenManager {
            authenticator,
            state: Mutex::new(State {
                current: None,
                renew_at: None,
                expires_at: None,
                renewing: false,
                generation: 0,
                last_error: None,
                failures: 0,
                retry_not_before: None,
            }),
            renewed: Condvar::new(),
            authentications: AtomicU64::new(0),
        }
    }

    /// Describes the identity service and user, for messages.
    pub fn describe(&self) -> String {
        self.authenticator.describe()
    }

    /// Number of authentication requests sent so far.
    pub fn authentications(&self) -> u64 {
        self.authentications.load(Ordering::Relaxed)
    }

    /// Returns the current session, authenticating first when there is none
    /// or when the token is about to expire.
    pub fn session(&self) -> Result<Arc<Session>, SwiftError> {
        let mut state = self.state.lock();
        loop {
            let now = SystemTime::now();
            if let Some(current) = &state.current {
                let expired = state.expires_at.is_some_and(|at| now >= at);
                let renewal_due =
                    state.renew_at.is_some_and(|at| now >= at) && self.authenticator.can_renew();
                if !renewal_due {
                    return Ok(current.clone());
                }
                // A token inside its renewal margin is still good: while another
                // thread renews it, keep using it instead of waiting.
                if state.renewing && !expired {
                    return Ok(current.clone());
                }
            }
            if state.renewing {
                self.renewed.wait(&mut state);
                continue;
            }
            let reason = if state.current.is_none() {
                Reason::Startup
            } else {
                Reason::ExpiresSoon
            };
            let result = self.renew_locked(&mut state, reason);
            // A failed early renewal is not fatal while the old token lasts.
            if result.is_err() {
                let still_valid = state.expires_at.is_some_and(|at| SystemTime::now() < at);
                if let (true, Some(current)) = (still_valid, &state.current) {
                    return Ok(current.clone());
                }
            }
            return result;
        }
    }

    /// Called after Swift returned 401 to a request made with the session of
    /// `seen_generation`. Renews once, however many threads call this for the
    /// same generation, and returns the session to repeat the request with.
    pub fn renew_after_unauthorized(
        &self,
        seen_generation: u64,
    ) -> Result<Arc<Session>, SwiftError> {
        let mut state = self.state.lock();
        loop {
            if state.generation != seen_generation {
                if let Some(current) = &state.current {
                    return Ok(current.clone());
                }
            }
            if state.renewing {
                self.renewed.wait(&mut state);
                continue;
            }
            if !self.authenticator.can_renew() {
                return Err(SwiftError::Auth(Arc::new(AuthError::TokenExpired)));
            }
            return self.renew_locked(&mut state, Reason::Unauthorized);
        }
    }

    /// Authenticates with the lock released, then publishes the result and
    /// wakes every waiting thread. Must be called with `renewing == false`.
    fn renew_locked(
        &self,
        state: &mut parking_lot::MutexGuard<'_, State>,
        reason: Reason,
    ) -> Result<Arc<Session>, SwiftError> {
        if let (Some(not_before), Some(error)) = (state.retry_not_before, &state.last_error) {
            if Instant::now() < not_before {
                return Err(SwiftError::Auth(error.clone()));
            }
        }
        state.renewing = true;
        let started = Instant::now();
        let result = parking_lot::MutexGuard::unlocked(state, || {
            self.authentications.fetch_add(1, Ordering::Relaxed);
            self.authenticator.authenticate()
        });
        state.renewing = false;
        self.renewed.notify_all();

        match result {
            Ok(token) => {
                state.generation += 1;
                let now = SystemTime::now();
                state.expires_at = token.expires_at;
                state.renew_at = token.expires_at.map(|expires| renewal_time(now, expires));
                state.failures = 0;
                state.last_error = None;
                state.retry_not_before = None;
                let session = Arc::new(Session {
                    token: token.token,
                    storage_url: token.storage_url,
                    generation: state.generation,
                });
                state.current = Some(session.clone());
                let lifetime = token
                    .expires_at
                    .and_then(|expires| expires.duration_since(now).ok())
                    .map(|left| format!("{} s", left.as_secs()))
                    .unwrap_or_else(|| "unknown".to_string());
                info!(
                    "authenticated ({}) with {} in {} ms; storage URL {}, token lifetime {}",
                    reason.as_str(),
                    self.authenticator.describe(),
                    started.elapsed().as_millis(),
                    session.storage_url,
                    lifetime
                );
                Ok(session)
            }
            Err(error) => {
                state.failures += 1;
                let delay = backoff(state.failures);
                state.retry_not_before = Some(Instant::now() + delay);
                warn!(
                    "authentication ({}) failed, next attempt in {} s at the earliest: {}",
                    reason.as_str(),
                    delay.as_secs(),
                    error
                );
                let error = Arc::new(error);
                state.last_error = Some(error.clone());
                Err(SwiftError::Auth(error))
            }
        }
    }
}

/// Computes when to renew a token that expires at `expires`, seen at `now`.
fn renewal_time(now: SystemTime, expires: SystemTime) -> SystemTime {
    let lifetime = expires.duration_since(now).unwrap_or_default();
    let margin = (lifetime / RENEWAL_MARGIN_FRACTION).min(MAX_RENEWAL_MARGIN);
    expires - margin
}

/// The hold-back delay after `failures` consecutive failed attempts.
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swift::auth::AuthToken;
    use secrecy::ExposeSecret;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Barrier;

    /// Issues tokens `token-1`, `token-2`, … with a fixed lifetime, counting
    /// calls, or fails with `Rejected` when `reject` is set.
    struct CountingAuth {
        calls: AtomicUsize,
        lifetime: Option<Duration>,
        reject: bool,
        delay: Duration,
    }

    impl CountingAuth {
        fn new(lifetime: Option<Duration>) -> CountingAuth {
            CountingAuth {
                calls: AtomicUsize::new(0),
                lifetime,
                reject: false,
                delay: Duration::ZERO,
            }
        }
    }

    impl Authenticator for Arc<CountingAuth> {
        fn authenticate(&self) -> Result<AuthToken, AuthError> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            std::thread::sleep(self.delay);
            if self.reject {
                return Err(AuthError::Rejected {
                    url: "http://127.0.0.1:1/v3".to_string(),
                    user: "demo".to_string(),
                    status: 401,
                });
            }
            Ok(AuthToken {
                token: SecretString::from(format!("token-{call}")),
                storage_url: "http://127.0.0.1:1/v1/AUTH_test".to_string(),
                expires_at: self.lifetime.map(|lifetime| SystemTime::now() + lifetime),
            })
        }

        fn describe(&self) -> String {
            "counting test authenticator".to_string()
        }
    }

    #[test]
    fn session_authenticates_once() {
        let auth = Arc::new(CountingAuth::new(Some(Duration::from_secs(3600))));
        let manager = TokenManager::new(Box::new(auth.clone()));
        let first = manager.session().unwrap();
        let second = manager.session().unwrap();
        assert_eq!(auth.calls.load(Ordering::SeqCst), 1);
        assert_eq!(first.generation, second.generation);
        assert_eq!(second.token.expose_secret(), "token-1");
    }

    #[test]
    fn session_renews_inside_margin() {
        // A 5 s token has a 0.5 s margin, so after 4.6 s it is due.
        let auth = Arc::new(CountingAuth::new(Some(Duration::from_secs(5))));
        let manager = TokenManager::new(Box::new(auth.clone()));
        manager.session().unwrap();
        std::thread::sleep(Duration::from_millis(4600));
        let renewed = manager.session().unwrap();
        assert_eq!(auth.calls.load(Ordering::SeqCst), 2);
        assert_eq!(renewed.token.expose_secret(), "token-2");
    }

    #[test]
    fn unauthorized_storm_renews_once() {
        let auth = Arc::new(CountingAuth {
            delay: Duration::from_millis(200),
            ..CountingAuth::new(None)
        });
        let manager = Arc::new(TokenManager::new(Box::new(auth.clone())));
        let seen = manager.session().unwrap().generation;
        let barrier = Arc::new(Barrier::new(64));
        let threads: Vec<_> = (0..64)
            .map(|_| {
                let manager = manager.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    manager.renew_after_unauthorized(seen).unwrap().generation
                })
            })
            .collect();
        let generations: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(auth.calls.load(Ordering::SeqCst), 2);
        assert!(
            generations.iter().all(|&g| g == seen + 1),
            "{generations:?}"
        );
    }

    #[test]
    fn rejected_credentials_back_off() {
        let auth = Arc::new(CountingAuth {
            reject: true,
            ..CountingAuth::new(None)
        });
        let manager = TokenManager::new(Box::new(auth.clone()));
        for _ in 0..20 {
            let error = manager.session().unwrap_err();
            assert!(matches!(error, SwiftError::Auth(_)), "{error}");
        }
        assert_eq!(auth.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn backoff_doubles_to_cap() {
        assert_eq!(backoff(1), FIRST_BACKOFF);
        assert_eq!(backoff(2), FIRST_BACKOFF * 2);
        assert_eq!(backoff(30), MAX_BACKOFF);
    }

    #[test]
    fn renewal_margin_is_tenth_of_short_lifetime() {
        let now = SystemTime::now();
        let expires = now + Duration::from_secs(120);
        let at = renewal_time(now, expires);
        assert_eq!(expires.duration_since(at).unwrap(), Duration::from_secs(12));
    }

    #[test]
    fn renewal_margin_capped_for_long_lifetime() {
        let now = SystemTime::now();
        let expires = now + Duration::from_secs(86_400);
        let at = renewal_time(now, expires);
        assert_eq!(expires.duration_since(at).unwrap(), MAX_RENEWAL_MARGIN);
    }
}
